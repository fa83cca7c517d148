"""A deadline's maximum bounds the whole run (E415): every attempt the restart policy allows may
run up to the deadline, and each stopped pod is given its grace period on top. Where a restart
starts a fresh deadline (a JobSet of the workload scope, a RayJob: README "Failure and restart"),
the run is attempts x (deadline + grace); where one deadline bounds every retry (the pod scope's
Job), it is deadline + grace."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ...emit.restart import WORKLOAD_SCOPE_OPERATORS
from ...resolve import Resolved
from ...resolve.tree import format_path
from ..policy_load import LoadedPolicy
from .evaluate import DEADLINE_FIELDS, as_number
from .messages import show, violation
from .tree import lookup

# the kubelet's grace period when the pod states none: what any pod is given, so not counted
KUBERNETES_GRACE_SECONDS = 30
BACKOFF = ("spec", "restartPolicy", "backoffLimit")
GRACE = ("spec", "gracefulTermination", "terminationGracePeriodSeconds")
RAY_OPERATORS = ("kuberay", "ray")


def check_run_bounds(resolved: Resolved, policy: LoadedPolicy) -> list[Diagnostic]:
    deadline = _deadline_seconds(resolved.data)
    if deadline is None:
        return []
    attempts = _attempts(resolved.data, resolved.operator)
    grace = _number(lookup(resolved.data, GRACE)) or 0
    extra_grace = max(0, grace - KUBERNETES_GRACE_SECONDS)
    run = attempts * (deadline + extra_grace)
    out = []
    for entry in policy.rules:
        maximum = as_number(entry.rule.max) if entry.rule.max is not None else None
        if entry.pattern not in DEADLINE_FIELDS or maximum is None or run <= maximum:
            continue
        if deadline > maximum:
            continue  # the deadline itself is above the maximum: E401 says so
        parts = [f"{attempts} attempt{'s' if attempts != 1 else ''}", f"a deadline of {deadline} s"]
        if extra_grace:
            parts.append(f"{extra_grace} s of grace beyond Kubernetes' {KUBERNETES_GRACE_SECONDS}")
        where = BACKOFF if attempts > 1 else GRACE
        message = (
            f"the run may last {run} s ({', '.join(parts)}), above the maximum "
            f"{show(entry.rule.max)} that the policy sets for {format_path(entry.pattern)}: "
            "a deadline bounds the whole run, retries and grace periods included"
        )
        out.append(violation("E415", message, resolved, entry, where, where))
    return out


def _deadline_seconds(data) -> int | None:
    for field in DEADLINE_FIELDS:  # timeout wins over activeDeadlineSeconds
        seconds = _number(lookup(data, field))
        if seconds is not None:
            return seconds
    return None


def _attempts(data, operator) -> int:
    """How many times the deadline can start afresh: 1 + backoffLimit where a retry starts a new
    deadline, else 1."""
    backoff = _number(lookup(data, BACKOFF)) or 0
    scope = lookup(data, ("spec", "restartPolicy", "scope"))
    if not isinstance(scope, str):
        scope = "workload" if operator in WORKLOAD_SCOPE_OPERATORS else "pod"
    fresh = operator in RAY_OPERATORS or (operator != "batchjob" and scope == "workload")
    return 1 + backoff if fresh else 1


def _number(value) -> int | None:
    number = as_number(value)
    return int(number) if number is not None else None
