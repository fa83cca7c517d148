"""Policy rules and limits on the merged manifest (SPEC 2.4), every violation at once.

A violation points at the value (file:line:col of the layer that set it) and carries, as related
entries, the rule's own location and who set the value. A violation by a value the base workload
set is E206: the base was valid once, the policy changed since.

The package: which rules bind (here), the logical tree they address (:mod:`.tree`), one rule's
evaluation (:mod:`.evaluate`), the channels a value takes besides its own field
(:mod:`.channels`), the run's bounds (:mod:`.bounds`), workload totals (:mod:`.limits`), the image
that runs (:mod:`.image`) and the messages (:mod:`.messages`).
"""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ...resolve import Resolved
from ..policy_load import LoadedPolicy, load_policy
from .bounds import check_run_bounds
from .channels import check_channels
from .evaluate import LABEL_FIELDS, check_label_field, check_rule
from .image import check_emitted_image
from .limits import (
    _types_location,
    check_limits,
    pod_groups,
    pod_resources,
    tpu_totals,
    workload_totals,
)
from .messages import describe
from .tree import MISSING, expand_item_rules

_LOADED: dict[int, tuple] = {}


def load_policy_once(document) -> tuple[LoadedPolicy | None, list[Diagnostic]]:
    """:func:`load_policy`, memoised per document: the catalog reports the problems once and
    every workload reuses the loaded rules."""
    cached = _LOADED.get(id(document))
    if cached is None or cached[0] is not document:
        cached = (document, load_policy(document))
        _LOADED[id(document)] = cached
    return cached[1]


def loaded_policy(document) -> LoadedPolicy | None:
    return load_policy_once(document)[0]


def policies_for(policy_documents, project: str | None) -> list[LoadedPolicy]:
    """Every global policy, then every policy of ``project``, in catalog order."""
    loaded = [p for p in (loaded_policy(d) for d in policy_documents) if p is not None]
    return [p for p in loaded if p.project is None] + [
        p for p in loaded if project and p.project == project
    ]


def check_policies(
    resolved: Resolved, policies: list[LoadedPolicy], types=None
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for policy in policies:
        for rule in expand_item_rules(policy.rules):
            if rule.pattern in LABEL_FIELDS:
                out += check_label_field(resolved, rule)
            else:
                out += check_rule(resolved, rule)
            out += check_channels(resolved, rule)
        out += check_run_bounds(resolved, policy)
        if policy.limits is not None and types is not None:
            out += check_limits(resolved, policy, types)
    return out


__all__ = [
    "MISSING",
    "_types_location",
    "check_emitted_image",
    "check_policies",
    "describe",
    "expand_item_rules",
    "load_policy_once",
    "loaded_policy",
    "pod_groups",
    "pod_resources",
    "policies_for",
    "tpu_totals",
    "workload_totals",
]
