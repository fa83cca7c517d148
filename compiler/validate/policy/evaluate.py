"""One rule on the values it addresses: required, bounds, step, options, pattern, canEdit,
forbidden, canAdd, canRemove; a rule on one of two spellings of an output binds the other."""

from __future__ import annotations

import dataclasses

from ...diagnostics import Diagnostic
from ...model.scalars import duration_seconds, number_as_text
from ...resolve import Resolved
from ...resolve.tree import format_path
from ..pattern import searches
from ..policy_load import PolicyRule
from .messages import deleted_violation, rounded, show, violation
from .tree import (
    MISSING,
    caseless_types,
    children,
    default_labels,
    expand,
    lookup,
    pattern_matches,
    policy_default,
    present,
)

TYPE_CHECKING = False  # fractions (with decimal) only for a step rule: not on every cold start
if TYPE_CHECKING:
    from fractions import Fraction

USER_ROLES = ("base", "workload", "set")


# two fields that write one output value: the deadline is timeout if set, else activeDeadlineSeconds
DEADLINE_FIELDS = (("spec", "timeout"), ("spec", "activeDeadlineSeconds"))


def blank(value) -> bool:
    """No value for ``required``: absent, null, a blank string, an empty collection."""
    if value is MISSING or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (dict, list)) and not value


def check_rule(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    rule = entry.rule
    out = []
    if entry.pattern in DEADLINE_FIELDS:
        out += _check_other_deadline(resolved, entry)
    for logical, data_path, value in expand(resolved.data, entry.pattern):
        derived = _derived_memory(resolved, logical) if blank(value) else None
        if derived is not None:
            out += derived_violations(resolved, entry, logical, derived)
            continue
        if blank(value) and rule.required and not _deadline_set_elsewhere(resolved, logical):
            out.append(
                violation(
                    "E406",
                    "the policy requires a value here; none is set",
                    resolved,
                    entry,
                    logical,
                    data_path,
                )
            )
        if value is MISSING or value is None:
            if rule.canEdit is False:
                out += _check_locked_absent(resolved, entry, logical, data_path)
            continue
        out += check_value(resolved, entry, logical, data_path, value)
    if rule.canRemove is False:
        out += _check_removals(resolved, entry)
    return out


MEMORY_FIELDS = ("memory", "ramRatio")


# labels only a field writes (spec.labels may not, E210): a value rule on the label binds the field
LABEL_FIELDS = {
    ("spec", "labels", "kueue.x-k8s.io/queue-name"): ("spec", "queue"),
    ("spec", "labels", "kueue.x-k8s.io/priority-class"): ("spec", "priority"),
}


NOT_VALUE_RULES = ("forbidden", "canEdit", "canAdd", "canRemove", "itemRules")


RULE_VALUE_KEYS = ("required", "min", "max", "step", "options", "pattern")


def check_label_field(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    """``options``, ``pattern``, bounds and ``required`` on the Kueue queue or priority label bind
    ``spec.queue`` or ``spec.priority``, the one field that writes it."""
    value_keys = [key for key in RULE_VALUE_KEYS if getattr(entry.rule, key) is not None]
    on_field = entry.rule.model_copy(update=dict.fromkeys(NOT_VALUE_RULES))
    on_label = entry.rule.model_copy(update=dict.fromkeys(value_keys))
    field = LABEL_FIELDS[entry.pattern]
    return check_rule(resolved, dataclasses.replace(entry, rule=on_label)) + check_rule(
        resolved, dataclasses.replace(entry, pattern=field, rule=on_field)
    )


def _derived_memory(resolved: Resolved, logical: tuple):
    """(the field that wrote it, its value) for ``memory`` and ``ramRatio``, which are two
    spellings of one output (memory = cpus x ramRatio): a rule on one binds what the other wrote."""
    if len(logical) < 2 or logical[-2] != "resources" or logical[-1] not in MEMORY_FIELDS:
        return None
    found = [value for _, _, value in expand(resolved.data, logical[:-1])]
    resources = found[0] if found else None
    if not isinstance(resources, dict):
        return None
    other = MEMORY_FIELDS[1 - MEMORY_FIELDS.index(logical[-1])]
    cpus, written = as_number(resources.get("cpus", 1)), as_number(resources.get(other))
    if written is None or not cpus:
        return None
    value = cpus * written if logical[-1] == "memory" else written / cpus
    return other, value


def derived_violations(resolved, entry, logical, derived) -> list[Diagnostic]:
    other, value = derived
    path = logical[:-1] + (other,)
    data_path = next((dp for _, dp, _ in expand(resolved.data, path)), path)
    shown = format_path(logical)
    return [
        violation(
            code,
            f"{message} (the {logical[-1]} that {other} gives, as memory = cpus x ramRatio; "
            f"the policy rules {shown})",
            resolved,
            entry,
            path,
            data_path,
        )
        for code, message in scalar_problems(entry.rule, rounded(value))
        + _across_problems(resolved, entry, logical, data_path, rounded(value))
    ]


def _across_problems(resolved, entry, logical, data_path, value) -> list[tuple[str, str]]:
    """``forbidden`` and ``canEdit: false`` on one of two spellings of an output, where the other
    (at ``data_path``) wrote ``value``: setting it is setting the ruled one; the value must be the
    policy default of the ruled one."""
    rule = entry.rule
    problems = []
    setter = resolved.layer_of(data_path)
    if rule.forbidden and setter is not None and setter.role in USER_ROLES:
        problems.append(("E408", f"the policy forbids setting {format_path(logical)}; remove it"))
    if rule.canEdit is False:
        expected = policy_default(resolved, entry.policy, logical)
        number, default = as_number(value), as_number(expected) if expected is not MISSING else None
        if number is None or default is None or number != default:
            shown = "no value" if expected is MISSING else show(expected)
            problems.append(
                (
                    "E407",
                    f"{show(value)} differs from the "
                    f"policy default {shown}; the policy does not allow editing it",
                )
            )
    return problems


def _effective_deadline_field(data) -> tuple | None:
    """The field whose value becomes activeDeadlineSeconds: timeout wins over activeDeadlineSeconds."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return None
    return next((("spec", key) for _, key in DEADLINE_FIELDS if spec.get(key) is not None), None)


def _deadline_set_elsewhere(resolved: Resolved, logical: tuple) -> bool:
    effective = _effective_deadline_field(resolved.data)
    return logical in DEADLINE_FIELDS and effective is not None and effective != logical


def _check_other_deadline(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    """A rule on one deadline field binds the deadline the other field wrote (SPEC 2.4: a rule
    binds the value that reaches the output): bounds, options, pattern, forbidden and canEdit."""
    effective = _effective_deadline_field(resolved.data)
    if effective is None or effective == entry.pattern:
        return []
    value = resolved.data["spec"][effective[1]]
    problems = scalar_problems(entry.rule, value) + _across_problems(
        resolved, entry, entry.pattern, effective, value
    )
    shown = format_path(entry.pattern)
    return [
        violation(
            code,
            f"{message} (this field sets the deadline that {shown} rules)",
            resolved,
            entry,
            effective,
            effective,
        )
        for code, message in problems
    ]


def check_value(resolved, entry, logical, data_path, value) -> list[Diagnostic]:
    out = [
        violation(code, message, resolved, entry, logical, data_path)
        for code, message in value_problems(resolved, entry, logical, data_path, value)
    ]
    if entry.rule.canAdd is False:
        out += _check_additions(resolved, entry, logical, data_path, value)
    return out


def value_problems(resolved, entry, logical, data_path, value) -> list[tuple[str, str]]:
    """(code, message) of each way ``value`` (at ``data_path``) breaks the rule: forbidden,
    the value rules, and canEdit against the policy default at ``logical``."""
    rule = entry.rule
    setter = resolved.layer_of(data_path)
    problems: list[tuple[str, str]] = []
    if rule.forbidden and setter is not None and setter.role in USER_ROLES:
        problems.append(("E408", "the policy forbids setting this field; remove it"))
    problems += scalar_problems(rule, value)
    if rule.canEdit is False:
        expected = policy_default(resolved, entry.policy, logical)
        if not same_value(value, expected):
            shown = "no value" if expected is MISSING else show(expected)
            problems.append(
                (
                    "E407",
                    f"{show(value)} differs from the policy default {shown}; the policy does not allow editing it",
                )
            )
    return problems


def scalar_problems(rule, value) -> list[tuple[str, str]]:
    out = []
    number = as_number(value)
    maximum = as_number(rule.max) if rule.max is not None else None
    minimum = as_number(rule.min) if rule.min is not None else None
    if number is not None:
        if maximum is not None and number > maximum:
            out.append(("E401", f"{show(value)} is above the maximum {show(rule.max)}"))
        if minimum is not None and number < minimum:
            out.append(("E402", f"{show(value)} is below the minimum {show(rule.min)}"))
        if rule.step is not None and not _on_step(value, rule):
            start = as_number(rule.min) if rule.min is not None else 0
            out.append(
                (
                    "E403",
                    f"{show(value)} is not {show(start)} plus a multiple of the step {show(rule.step)}",
                )
            )
    if (
        rule.options is not None
        and not isinstance(value, (dict, list))
        and not any(same_value(value, o) for o in rule.options)
    ):
        out.append(
            (
                "E404",
                f"{show(value)} is not one of the options: {', '.join(show(o) for o in rule.options)}",
            )
        )
    if rule.pattern is not None:
        text = value if isinstance(value, str) else number_as_text(value)
        if isinstance(text, str) and searches(rule.pattern, text) is False:
            out.append(("E405", f"{show(text)} does not match the pattern '{rule.pattern}'"))
    return out


def _on_step(value, rule) -> bool:
    """Exactly min + k x step, in the decimals as written (0.1 is one tenth, not the nearest float)."""
    from fractions import Fraction

    number, step = _exact(value), _exact(rule.step)
    start = _exact(rule.min) if rule.min is not None else Fraction(0)
    if number is None or start is None or not step:
        return True
    return ((number - start) / step).denominator == 1


def _exact(value) -> Fraction | None:
    """A number or duration as an exact fraction of its written decimal; None if it is neither."""
    from fractions import Fraction

    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return Fraction(duration_seconds(value))
        except ValueError:
            return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        try:
            return Fraction(getattr(value, "text", None) or repr(value))
        except ValueError:  # inf, nan
            return None
    return None


def _check_additions(resolved, entry, logical, data_path, value) -> list[Diagnostic]:
    allowed = default_labels(resolved, logical)
    out = []
    for label, key, _ in children(value, logical):
        if label in allowed:
            continue
        shown = ", ".join(sorted(allowed)) or "none"
        message = f"item {label!r} is not among the policy's items ({shown}); the policy does not allow adding items"
        out.append(
            violation(
                "E409",
                message,
                resolved,
                entry,
                logical + (label,),
                data_path + (key,),
                shown_path=logical,
            )
        )
    return out


def _check_locked_absent(resolved, entry, logical, data_path) -> list[Diagnostic]:
    expected = policy_default(resolved, entry.policy, logical)
    if expected is MISSING:
        return []
    deletion = _deletion_of(resolved, logical)
    message = (
        f"the policy default {show(expected)} was removed; the policy does not allow editing it"
    )
    if deletion is None:
        return [violation("E407", message, resolved, entry, logical, data_path)]
    return [deleted_violation("E407", message, resolved, entry, logical, deletion)]


def _check_removals(resolved, entry) -> list[Diagnostic]:
    out = []
    fold = caseless_types(resolved.data)
    reported = set()
    for logical, origin in resolved.events.deletions:
        if not pattern_matches(entry.pattern, logical, fold) or present(resolved.data, logical):
            continue
        if logical in reported:
            continue
        below = [
            layer
            for layer in resolved.layers[: origin.layer]
            if lookup(layer.data, logical, fold) is not MISSING
        ]
        if below:
            reported.add(logical)
            message = f"item {logical[-1]!r} may not be removed (it comes from {below[-1].name})"
            out.append(deleted_violation("E410", message, resolved, entry, logical, origin))
    return out


def _deletion_of(resolved, logical):
    found = [origin for path, origin in resolved.events.deletions if path == logical]
    return found[-1] if found else None


def as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(duration_seconds(value))
        except ValueError:
            return None
    return None


def same_value(value, expected) -> bool:
    if value == expected and type(value) is not bool and type(expected) is not bool:
        return True
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    if isinstance(expected, str) and not isinstance(value, str):
        return number_as_text(value) == expected
    return False
