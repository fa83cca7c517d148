"""One state machine for Job, JobSet and RayJob, and Kueue when the job is queued.

    Pending -> Preparing -> Running -> Succeeded | Failed | Cancelled

Pure functions over the objects as the API server returns them (plain dicts): no client, no I/O,
so every rule here is tested on literal objects (tests/test_cluster_state.py).

- Pending: queued by Kueue or suspended.
- Preparing: admitted (or not queued at all), no pod running yet.
- Running: at least one pod is (or was) running.
- Succeeded / Failed: the kind's own terminal condition (never pod counters).
- Cancelled: deleted before it finished, or a Ray job that was STOPPED.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING, PREPARING, RUNNING = "Pending", "Preparing", "Running"
SUCCEEDED, FAILED, CANCELLED = "Succeeded", "Failed", "Cancelled"
PHASES = (PENDING, PREPARING, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINAL_PHASES = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass(frozen=True)
class State:
    phase: str
    reason: str = ""
    since: str | None = None  # RFC 3339 time the object itself records, when it records one
    restart: bool = (
        False  # Preparing again after Running because the job starts over (not a lull in counters)
    )

    @property
    def finished(self) -> bool:
        return self.phase in FINAL_PHASES


# ---------------------------------------------------------------------------------------------
# reading objects


def _status(obj: dict) -> dict:
    status = obj.get("status") if isinstance(obj, dict) else None
    return status if isinstance(status, dict) else {}


def _spec(obj: dict) -> dict:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    return spec if isinstance(spec, dict) else {}


def _metadata(obj: dict) -> dict:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def true_conditions(obj: dict) -> dict:
    """Conditions with status "True", by type."""
    conditions = _status(obj).get("conditions") or []
    return {
        c.get("type"): c for c in conditions if isinstance(c, dict) and c.get("status") == "True"
    }


def _condition_text(condition: dict, fallback: str) -> str:
    reason = condition.get("reason") or fallback
    message = (condition.get("message") or "").strip()
    return f"{reason}: {message}" if message and message != reason else reason


def _number(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _deleting(obj: dict) -> State | None:
    when = _metadata(obj).get("deletionTimestamp")
    return State(CANCELLED, "being deleted", when) if when else None


def deleted(last: State | None) -> State:
    """The state once the object is gone: a finished job keeps its outcome, anything else was cancelled."""
    if last is not None and last.finished:
        return last
    return State(CANCELLED, "deleted before it finished")


# ---------------------------------------------------------------------------------------------
# Kueue


def queue_gate(workload: dict | None) -> State | None:
    """Pending while Kueue has not admitted the workload; None when Kueue does not hold the job back."""
    if not workload:
        return None
    conditions = true_conditions(workload)
    if "Finished" in conditions:
        return None
    if "Evicted" in conditions:
        evicted = conditions["Evicted"]
        return State(
            PENDING,
            "evicted by Kueue: " + _condition_text(evicted, "Evicted"),
            evicted.get("lastTransitionTime"),
        )
    if "Admitted" in conditions:
        return None
    if "QuotaReserved" in conditions:
        reserved = conditions["QuotaReserved"]
        return State(
            PENDING,
            "quota reserved, waiting for admission checks",
            reserved.get("lastTransitionTime"),
        )
    queue = (_spec(workload).get("queueName") or "").strip()
    waiting = next(
        (
            c
            for c in _status(workload).get("conditions") or []
            if isinstance(c, dict) and c.get("type") == "QuotaReserved"
        ),
        None,
    )
    reason = f"queued in LocalQueue {queue}" if queue else "queued by Kueue"
    if waiting and (waiting.get("message") or "").strip():
        reason += ": " + waiting["message"].strip()
    return State(PENDING, reason, _metadata(workload).get("creationTimestamp"))


def _admitted(workload: dict | None) -> bool:
    return workload is not None and "Admitted" in true_conditions(workload)


def _held(obj: dict, workload: dict | None, suspended: bool) -> State | None:
    """Pending when Kueue queues the job or it is suspended; None when it may run."""
    gate = queue_gate(workload)
    if gate is not None:
        return gate
    if suspended and not _admitted(workload):
        return State(PENDING, "suspended", _metadata(obj).get("creationTimestamp"))
    return None


def _admitted_but_suspended(workload: dict | None, suspended: bool) -> State | None:
    if suspended and workload is not None and _admitted(workload):
        return State(
            PREPARING,
            "admitted by Kueue",
            true_conditions(workload)["Admitted"].get("lastTransitionTime"),
        )
    return None


# ---------------------------------------------------------------------------------------------
# batch/v1 Job


def _deleting_or_held(job: dict, workload: dict | None, conditions: dict) -> State | None:
    """Job and JobSet alike: being deleted, or held back by suspension or a Kueue queue."""
    deleting = _deleting(job)
    if deleting:
        return deleting
    suspended = _spec(job).get("suspend") is True or "Suspended" in conditions
    return _held(job, workload, suspended) or _admitted_but_suspended(workload, suspended)


def job_state(job: dict, workload: dict | None = None) -> State:
    conditions = true_conditions(job)
    status = _status(job)
    if "Complete" in conditions:
        complete = conditions["Complete"]
        return State(
            SUCCEEDED,
            _condition_text(complete, "Complete"),
            complete.get("lastTransitionTime") or status.get("completionTime"),
        )
    if "Failed" in conditions:
        failed = conditions["Failed"]
        return State(FAILED, _condition_text(failed, "Failed"), failed.get("lastTransitionTime"))
    not_started = _deleting_or_held(job, workload, conditions)
    if not_started:
        return not_started
    base = _job_progress(status)
    if "FailureTarget" in conditions:
        return State(
            base.phase,
            "finishing, failed: " + _condition_text(conditions["FailureTarget"], "FailureTarget"),
            base.since,
        )
    if "SuccessCriteriaMet" in conditions:
        return State(
            base.phase,
            "finishing, succeeded: "
            + _condition_text(conditions["SuccessCriteriaMet"], "SuccessCriteriaMet"),
            base.since,
        )
    return base


def _job_progress(status: dict) -> State:
    ready, succeeded, failed, active = (
        _number(status.get(key)) for key in ("ready", "succeeded", "failed", "active")
    )
    # pods that ended but are not counted yet: the controller lists their UIDs here first
    uncounted = status.get("uncountedTerminatedPods") or {}
    if isinstance(uncounted, dict):
        succeeded += len(uncounted.get("succeeded") or [])
        failed += len(uncounted.get("failed") or [])
    if ready or succeeded or failed:
        parts = [_plural(ready, "pod") + " ready"]
        if succeeded:
            parts.append(f"{succeeded} succeeded")
        if failed:
            parts.append(f"{failed} failed")
        return State(RUNNING, ", ".join(parts), None)
    if active:
        return State(PREPARING, _plural(active, "pod") + " starting", status.get("startTime"))
    return State(PREPARING, "waiting for pods", status.get("startTime"))


# ---------------------------------------------------------------------------------------------
# JobSet


def jobset_state(jobset: dict, workload: dict | None = None) -> State:
    conditions = true_conditions(jobset)
    status = _status(jobset)
    terminal = status.get("terminalState")
    if "Completed" in conditions or terminal == "Completed":
        completed = conditions.get("Completed", {})
        return State(
            SUCCEEDED, _condition_text(completed, "Completed"), completed.get("lastTransitionTime")
        )
    if "Failed" in conditions or terminal == "Failed":
        failed = conditions.get("Failed", {})
        return State(FAILED, _condition_text(failed, "Failed"), failed.get("lastTransitionTime"))
    not_started = _deleting_or_held(jobset, workload, conditions)
    if not_started:
        return not_started
    if "RestartingJobSet" in conditions:
        restarting = conditions["RestartingJobSet"]
        attempt = _number(status.get("restarts"))
        return State(
            PREPARING,
            f"restarting (restart {attempt}): " + _condition_text(restarting, "RestartingJobSet"),
            restarting.get("lastTransitionTime"),
            restart=True,
        )
    return _jobset_progress(status)


def _jobset_progress(status: dict) -> State:
    totals = {"ready": 0, "succeeded": 0, "failed": 0, "active": 0}
    for replicated in status.get("replicatedJobsStatus") or []:
        if isinstance(replicated, dict):
            for key in totals:
                totals[key] += _number(replicated.get(key))
    if totals["ready"] or totals["succeeded"] or totals["failed"]:
        parts = [_plural(totals["ready"], "job") + " ready"]
        if totals["succeeded"]:
            parts.append(f"{totals['succeeded']} succeeded")
        if totals["failed"]:
            parts.append(f"{totals['failed']} failed")
        return State(RUNNING, ", ".join(parts), None)
    if totals["active"]:
        return State(PREPARING, _plural(totals["active"], "job") + " starting", None)
    return State(PREPARING, "waiting for jobs", None)


# ---------------------------------------------------------------------------------------------
# KubeRay RayJob (no status.conditions: jobDeploymentStatus is KubeRay's view, jobStatus Ray's)


def rayjob_state(rayjob: dict, workload: dict | None = None) -> State:
    status = _status(rayjob)
    deployment = status.get("jobDeploymentStatus") or ""
    ray_status = status.get("jobStatus") or ""
    reason = status.get("reason") or ""
    message = (status.get("message") or "").strip()
    end = status.get("endTime")
    if deployment == "Complete":
        # KubeRay reports a STOPPED Ray job as Complete: it did not succeed
        if ray_status == "STOPPED":
            return State(CANCELLED, "Ray job STOPPED", end)
        if ray_status == "FAILED":
            return State(FAILED, _ray_text(reason or "Ray job FAILED", message), end)
        return State(SUCCEEDED, "Ray job " + (ray_status or "complete"), end)
    if deployment in ("Failed", "ValidationFailed"):
        return State(FAILED, _ray_text(reason or deployment, message), end)
    deleting = _deleting(rayjob)
    if deleting:
        return deleting
    suspended = _spec(rayjob).get("suspend") is True and deployment in ("", "New", "Suspended")
    held = _held(rayjob, workload, suspended or deployment in ("Suspending", "Suspended"))
    if held:
        return held
    if deployment == "Running":
        return State(RUNNING, "Ray job " + (ray_status or "submitted"), None)
    admitted = _admitted_but_suspended(workload, suspended)
    if admitted:
        return admitted
    if deployment == "Retrying":
        return State(
            PREPARING,
            f"retrying after {_plural(_number(status.get('failed')), 'failure')}",
            None,
            restart=True,
        )
    if deployment == "Waiting":
        return State(PREPARING, "Ray cluster ready, waiting for the job to be submitted", None)
    if deployment == "Initializing":
        return State(PREPARING, "creating the Ray cluster", status.get("startTime"))
    return State(PREPARING, "waiting for KubeRay", None)


def _ray_text(reason: str, message: str) -> str:
    return f"{reason}: {message}" if message and message != reason else reason


# ---------------------------------------------------------------------------------------------

STATE_OF_KIND = {"Job": job_state, "JobSet": jobset_state, "RayJob": rayjob_state}


def state_of(obj: dict, workload: dict | None = None) -> State:
    """The state of a Job, JobSet or RayJob (its ``kind`` says which)."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind not in STATE_OF_KIND:
        raise ValueError(f"no state machine for kind {kind!r}")
    return STATE_OF_KIND[kind](obj, workload)


def transition(last: State | None, current: State) -> State | None:
    """The state to report, or None when the phase did not change.

    A finished job never goes back: once a final phase is reported, later observations (a
    repeated event after a reconnect, the deletion that follows a TTL) are not transitions.
    Nor does a running job go back to Preparing when its pod counters drop for a moment (a pod
    ended and the controller has not counted it yet), only when it really starts over.
    """
    if last is not None and (last.finished or last.phase == current.phase):
        return None
    if (
        last is not None
        and last.phase == RUNNING
        and current.phase == PREPARING
        and not current.restart
    ):
        return None
    return current


# ---------------------------------------------------------------------------------------------
# pods: when the job started running, and why it failed


STARTED_POD_PHASES = ("Running", "Succeeded", "Failed")


def running_since(pods: list[dict]) -> str | None:
    """When the first of ``pods`` started running (its ``status.startTime``); None when none has."""
    started = [
        _status(pod).get("startTime")
        for pod in pods
        if _status(pod).get("phase") in STARTED_POD_PHASES and _status(pod).get("startTime")
    ]
    return min(started, key=moment_key) if started else None


def _terminated(container: dict) -> dict | None:
    state = container.get("state")
    last = container.get("lastState")
    state = state if isinstance(state, dict) else {}
    last = last if isinstance(last, dict) else {}
    for found in (state.get("terminated"), last.get("terminated")):
        if isinstance(found, dict) and (
            _number(found.get("exitCode")) != 0 or found.get("reason") == "OOMKilled"
        ):
            return found
    return None


def _pod_failures(pod: dict) -> list[tuple[str, str]]:
    """(when, why) of each failure of one pod: its containers' non-zero exits, else the pod's
    own reason (Evicted, DeadlineExceeded...)."""
    status = _status(pod)
    name = _metadata(pod).get("name") or "?"
    found = []
    containers = (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    )
    for container in containers:
        if not isinstance(container, dict):
            continue
        terminated = _terminated(container)
        if terminated is None:
            continue
        reason = terminated.get("reason") or "Error"
        code = terminated.get("exitCode")
        text = f"pod {name} container {container.get('name') or '?'} exited with code {code} ({reason})"
        message = (terminated.get("message") or "").strip()
        # "": a pod being deleted, stopped by its controller after the failure, sorts last
        when = "" if _metadata(pod).get("deletionTimestamp") else terminated.get("finishedAt")
        found.append((when or "", f"{text}: {message}" if message else text))
    if not found and status.get("phase") == "Failed" and status.get("reason"):
        message = (status.get("message") or "").strip()
        text = f"pod {name} {status['reason']}"
        found.append(("", f"{text}: {message}" if message else text))
    return found


def pod_failure(pods: list[dict]) -> str:
    """Why the first of ``pods`` to fail failed: ``pod P container C exited with code 137
    (OOMKilled)``, ``pod P Evicted: The node was low on resource: memory``; "" when none did."""
    failures = [failure for pod in pods for failure in _pod_failures(pod)]
    if not failures:
        return ""
    return min(failures, key=lambda failure: (moment_key(failure[0]), failure[1]))[1]


def moment_key(text: str | None) -> tuple[int, str]:
    """An RFC 3339 time as a key that sorts by time (fractions and offsets included); what is
    not a time sorts after every time."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(str(text or "").replace("Z", "+00:00"))
    except ValueError:
        return (1, str(text or ""))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (0, moment.astimezone(UTC).isoformat())
