"""Rules on ``spec.image`` bind the image that runs."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ...resolve import Resolved
from ..pattern import searches
from ..policy_load import LoadedPolicy
from .messages import show, violation
from .tree import expand_item_rules


def check_emitted_image(
    resolved: Resolved, policies: list[LoadedPolicy], written: str, emitted: str | None
) -> list[Diagnostic]:
    """Rules on ``spec.image`` bind the image the containers run: pinned by --image-digest (and
    moved under ``builder.registry``), it is another string than ``spec.image`` as written."""
    if not emitted or emitted == written:
        return []
    path = ("spec", "image")
    out = []
    for policy in policies:
        for entry in expand_item_rules(policy.rules):
            if entry.pattern != path:
                continue
            rule = entry.rule
            problems = []
            if rule.pattern is not None and searches(rule.pattern, emitted) is False:
                problems.append(("E405", f"does not match the pattern '{rule.pattern}'"))
            moved = _repository(emitted) != _repository(written)
            if (
                rule.options is not None
                and emitted not in rule.options
                and (moved or written not in rule.options)
            ):
                shown = ", ".join(show(o) for o in rule.options)
                problems.append(("E404", f"is not one of the options: {shown}"))
            for code, complaint in problems:
                message = (
                    f"the image that runs, {emitted!r} (spec.image pinned by --image-digest, "
                    f"under builder.registry when set), {complaint}"
                )
                out.append(violation(code, message, resolved, entry, path, path))
    return out


def _repository(image: str) -> str:
    """``registry/path`` of an image reference, without its tag and digest."""
    rest = image.split("@", 1)[0]
    colon, slash = rest.rfind(":"), rest.rfind("/")
    return rest[:colon] if colon > slash else rest
