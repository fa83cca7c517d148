"""Failure and restart (SPEC 2.8): ``spec.restartPolicy`` compiled with each controller's own means.

One vocabulary: ``backoffLimit`` (retries the program's own failures earn), ``scope`` (``workload``:
every pod restarts together; ``pod``: only the failed pod is replaced) and ``failOnExitCodes``
(fail at once). Whatever the scope, a disruption (a pod with the ``DisruptionTarget`` condition:
preemption, eviction, node drain) restarts without counting, and a timeout is never retried.

Upstream behaviour this relies on (Kubernetes v1.36, JobSet v0.12, KubeRay v1.6):

- batch/v1 Job ``podFailurePolicy`` (pkg/controller/job/pod_failure_policy.go): rules in order,
  the first match wins; ``Ignore`` replaces the pod without counting it, ``FailJob`` fails the Job
  with reason ``PodFailurePolicy`` and the message "Container C for pod NS/P failed with exit code
  N matching FailJob rule at index I" or "Pod NS/P has condition DisruptionTarget matching FailJob
  rule at index I". It needs the pods' ``restartPolicy: Never`` and ``podReplacementPolicy:
  Failed`` (the default with a pod failure policy); ``onExitCodes`` values must be non-zero,
  unique and ordered (pkg/apis/batch/validation).
- ``backoffLimitPerIndex`` (Indexed Jobs) retries each index on its own; ``maxFailedIndexes: 0``
  fails the Job as soon as one index has used up its retries (reason ``MaxFailedIndexesExceeded``).
- ``activeDeadlineSeconds`` fails a Job with reason ``DeadlineExceeded``; the Job controller never
  retries it.
- JobSet ``failurePolicy.rules`` (api/jobset/v1alpha2/jobset_types.go): for a failed child Job the
  first rule whose ``onJobFailureReasons`` and ``onJobFailureMessagePatterns`` match acts;
  ``RestartJobSetAndIgnoreMaxRestarts`` recreates every Job without counting against
  ``maxRestarts``; no matching rule means ``RestartJobSet``.
- KubeRay RayJob ``backoffLimit`` retries a failed attempt on a new RayCluster, but never one that
  failed with ``DeadlineExceeded`` (rayjob_controller.go checkBackoffLimitAndUpdateStatusIfNeeded);
  it sees neither exit codes nor why a pod went away, and it restarts the whole cluster.
"""

from __future__ import annotations

WORKLOAD_SCOPE_OPERATORS = ("pytorch", "xgboost", "jax", "tf", "kuberay", "ray")
DISRUPTION_CONDITION = {"type": "DisruptionTarget", "status": "True"}

# the Job controller's messages for a FailJob rule (pod_failure_policy.go), as JobSet regexes
DISRUPTION_MESSAGE = "has condition DisruptionTarget matching FailJob rule"
EXIT_CODE_MESSAGE = "failed with exit code [0-9]+ matching FailJob rule"


def scope(spec, operator: str) -> str:
    """The scope written, else the operator's default."""
    policy = spec.restartPolicy
    if policy is not None and policy.scope is not None:
        return str(policy.scope)
    return "workload" if operator in WORKLOAD_SCOPE_OPERATORS else "pod"


def backoff_limit(spec) -> int:
    policy = spec.restartPolicy
    return policy.backoffLimit if policy and policy.backoffLimit is not None else 0


def exit_codes(spec) -> list[int]:
    """failOnExitCodes as the API server wants them: unique and ordered."""
    policy = spec.restartPolicy
    return sorted(set(policy.failOnExitCodes or ())) if policy else []


def _exit_code_rule(codes: list[int]) -> dict:
    return {"action": "FailJob", "onExitCodes": {"operator": "In", "values": codes}}


def pod_scope_job(spec) -> dict:
    """Job fields for the pod scope: each index retried on its own up to backoffLimit; a
    disruption replaces the pod uncounted; a fatal exit code fails the Job; the first index
    to run out of retries fails the Job at once."""
    rules: list[dict] = [{"action": "Ignore", "onPodConditions": [dict(DISRUPTION_CONDITION)]}]
    codes = exit_codes(spec)
    if codes:
        rules.append(_exit_code_rule(codes))
    return {
        "backoffLimitPerIndex": backoff_limit(spec),
        "maxFailedIndexes": 0,
        "podFailurePolicy": {"rules": rules},
        "podReplacementPolicy": "Failed",
    }


def workload_scope_child_job(spec) -> dict:
    """A JobSet child Job of a workload-scope (gang) job: any failure fails the Job at once, so
    the JobSet restarts every Job; the reason and message tell the JobSet why (see
    ``jobset_failure_policy``). A disruption is matched first: the exit code of a pod that was
    disrupted is the disruption's doing, not the program's."""
    rules: list[dict] = [{"action": "FailJob", "onPodConditions": [dict(DISRUPTION_CONDITION)]}]
    codes = exit_codes(spec)
    if codes:
        rules.append(_exit_code_rule(codes))
    return {"backoffLimit": 0, "podFailurePolicy": {"rules": rules}}


def jobset_failure_policy(spec) -> dict:
    """The JobSet failurePolicy of a workload-scope (gang) job."""
    rules: list[dict] = [
        {
            "name": "disruption",
            "action": "RestartJobSetAndIgnoreMaxRestarts",
            "onJobFailureReasons": ["PodFailurePolicy"],
            "onJobFailureMessagePatterns": [DISRUPTION_MESSAGE],
        }
    ]
    if exit_codes(spec):
        rules.append(
            {
                "name": "failOnExitCodes",
                "action": "FailJobSet",
                "onJobFailureReasons": ["PodFailurePolicy"],
                "onJobFailureMessagePatterns": [EXIT_CODE_MESSAGE],
            }
        )
    rules += [
        {"name": "timeout", "action": "FailJobSet", "onJobFailureReasons": ["DeadlineExceeded"]},
        {
            "name": "programFailure",
            "action": "RestartJobSet",
            "onJobFailureReasons": ["BackoffLimitExceeded"],
        },
    ]
    return {"maxRestarts": backoff_limit(spec), "rules": rules}


def effective(data: dict) -> dict | None:
    """What ``compile explain`` adds: the restart behaviour a resolved manifest (plain data) gets,
    defaults included; None when its operator is not known."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("operator"), str):
        return None
    operator = spec["operator"]
    written = spec.get("restartPolicy")
    policy: dict = written if isinstance(written, dict) else {}
    scope_value = policy.get("scope")
    backoff = policy.get("backoffLimit")
    codes = policy.get("failOnExitCodes")
    return {
        "scope": scope_value
        if isinstance(scope_value, str)
        else ("workload" if operator in WORKLOAD_SCOPE_OPERATORS else "pod"),
        "scopeFrom": "the manifest" if isinstance(scope_value, str) else f"{operator}'s default",
        "backoffLimit": backoff if isinstance(backoff, int) else 0,
        "failOnExitCodes": sorted(set(codes)) if isinstance(codes, list) else [],
        "disruption": "restarts without counting against backoffLimit",
        "timeout": "fails the workload; never retried",
    }


def explain_line(data: dict) -> str | None:
    facts = effective(data)
    if facts is None:
        return None
    codes = ", ".join(str(c) for c in facts["failOnExitCodes"]) or "none"
    return (
        f"# restart (SPEC 2.8): scope {facts['scope']} ({facts['scopeFrom']}), "
        f"backoffLimit {facts['backoffLimit']}, failOnExitCodes {codes}; a disruption "
        "(DisruptionTarget) restarts without counting, a timeout is never retried\n"
    )
