"""Finding a job by name, its state with Kueue's view, its pods; status, list and cancel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .client import ApiError, Kube
from .kinds import (
    JOB,
    JOB_KINDS,
    MANAGED_BY_SELECTOR,
    POD,
    WORKLOAD,
    Resource,
    parse_reference,
    pod_counts,
    pod_selector,
)
from .state import State, state_of
from .waiting import Position

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"


class JobNotFound(Exception):
    pass


@dataclass
class Found:
    resource: Resource
    obj: dict

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.obj["metadata"].get("namespace", "")


def _get(
    kube: Kube, resource: Resource, namespace: str, name: str, served: bool = False
) -> dict | None:
    """The object, or None when it does not exist. ``served``: the resource must be served
    (a 404 of the API group raises, exit 3: its controller is not installed)."""
    try:
        obj = kube.get(resource.path(namespace, name))
    except ApiError as exc:
        if exc.not_found and not (served and exc.group_missing):
            return None  # no such object, or no such resource (the CRD is not installed)
        raise
    obj.setdefault("kind", resource.kind)
    obj.setdefault("apiVersion", resource.api_version)
    return obj


def _owned_by_another_job(obj: dict) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    kinds = {r.kind for r in JOB_KINDS}
    return any(owner.get("kind") in kinds for owner in owners)


def find_job(kube: Kube, reference: str, namespace: str) -> Found:
    """``NAME`` (a JobSet, else a RayJob, else a Job no other job owns) or ``KIND/NAME``."""
    resource, name = parse_reference(reference)
    candidates = (resource,) if resource else JOB_KINDS
    for candidate in candidates:
        # a bare NAME: the last kind must be served (batch/v1 Job is, by any Kubernetes)
        obj = _get(kube, candidate, namespace, name, served=candidate is candidates[-1])
        if obj is None:
            continue
        if resource is None and candidate is JOB and _owned_by_another_job(obj):
            continue
        return Found(candidate, obj)
    kinds = resource.kind if resource else "JobSet, RayJob or Job"
    raise JobNotFound(f"no {kinds} named {name!r} in namespace {namespace}")


def find_job_in(kube: Kube, reference: str, namespaces: list[str]) -> Found:
    """:func:`find_job` in the first of ``namespaces`` that holds it (the project's, then the
    context's: where ``submit`` put it, then where kubectl would look)."""
    for namespace in namespaces[:-1]:
        try:
            return find_job(kube, reference, namespace)
        except JobNotFound:
            continue
    try:
        return find_job(kube, reference, namespaces[-1])
    except JobNotFound as exc:
        if len(namespaces) == 1:
            raise
        _, name = parse_reference(reference)
        looked = " or ".join(namespaces)
        raise JobNotFound(
            str(exc).split(" named ")[0] + f" named {name!r} in namespace {looked}"
        ) from None


def find_existing(kube: Kube, resource: Resource, namespace: str, name: str) -> Found | None:
    obj = _get(kube, resource, namespace, name)
    return Found(resource, obj) if obj is not None else None


# ---------------------------------------------------------------------------------------------
# state


class KueueView:
    """The Kueue Workload of a queued job, looked up by the owner's UID; remembers when Kueue is absent."""

    def __init__(self, kube: Kube):
        self.kube = kube
        self.available = True

    def workload_of(self, obj: dict) -> dict | None:
        metadata = obj.get("metadata") or {}
        if (
            not self.available
            or QUEUE_LABEL not in (metadata.get("labels") or {})
            or not metadata.get("uid")
        ):
            return None
        try:
            listed = self.kube.get(
                WORKLOAD.path(metadata.get("namespace")),
                labelSelector=f"{JOB_UID_LABEL}={metadata['uid']}",
            )
        except ApiError as exc:
            if exc.not_found:
                self.available = False
                return None
            raise
        items = listed.get("items") or []
        return items[0] if items else None


def current_state(kube: Kube, found: Found, kueue: KueueView | None = None) -> State:
    workload = (kueue or KueueView(kube)).workload_of(found.obj)
    return state_of(found.obj, workload)


# Kueue's visibility API: a LocalQueue's pendingworkloads subresource
PENDING_WORKLOADS = Resource("LocalQueue", "visibility.kueue.x-k8s.io", "v1beta2", "localqueues")


def queue_position(kube: Kube, workload: dict):
    """The workload's place in its LocalQueue: from Kueue's visibility API when it is served,
    else counted from the namespace's Workloads in Kueue's order."""
    from .waiting import estimated_position, position_from_visibility, queue_name

    namespace = (workload.get("metadata") or {}).get("namespace") or ""
    queue = queue_name(workload)
    if not queue:
        return None
    try:
        summary = kube.get(PENDING_WORKLOADS.path(namespace, queue, "pendingworkloads"))
        found = position_from_visibility(workload, summary)
        if found is not None:
            return found
    except ApiError as exc:
        if exc.status not in (403, 404, 503):  # not served, or not to us: count instead
            raise
    from .waiting import is_pending

    # page by page, keeping only the queue's waiting Workloads
    line = [
        w for w in kube.pages(WORKLOAD.path(namespace)) if queue_name(w) == queue and is_pending(w)
    ]
    if workload not in line:
        line.append(workload)
    return estimated_position(workload, line)


def _slim(workload: dict) -> dict:
    """What the state machine and the queue's order read of a Workload (its pod sets, which
    hold whole pod templates, are left out)."""
    metadata = workload.get("metadata") or {}
    spec = workload.get("spec") or {}
    return {
        "kind": "Workload",
        "metadata": {
            key: metadata[key]
            for key in ("name", "namespace", "creationTimestamp", "labels")
            if key in metadata
        },
        "spec": {key: spec[key] for key in ("queueName", "priority") if key in spec},
        "status": {
            key: value
            for key, value in (workload.get("status") or {}).items()
            if key in ("conditions", "clusterName")
        },
    }


class NamespaceKueue(KueueView):
    """Kueue's view of a whole namespace for ``compile list``: its Workloads read once (page by
    page, slim), and each queue's order once, instead of a request or two for every job."""

    def __init__(self, kube: Kube, namespace: str):
        super().__init__(kube)
        self.namespace = namespace
        self.by_uid: dict[str, dict] | None = None
        # (namespace, queue) -> workload name -> Position: Kueue's, and counted from the Workloads
        self.positions: dict[tuple[str, str], dict] = {}
        self.estimated: dict[tuple[str, str], dict] = {}

    def workload_of(self, obj: dict) -> dict | None:
        metadata = obj.get("metadata") or {}
        if not self.available or QUEUE_LABEL not in (metadata.get("labels") or {}):
            return None
        if self.by_uid is None:
            self.by_uid = {}
            try:
                for workload in self.kube.pages(WORKLOAD.path(self.namespace)):
                    labels = (workload.get("metadata") or {}).get("labels") or {}
                    if labels.get(JOB_UID_LABEL):
                        self.by_uid[labels[JOB_UID_LABEL]] = _slim(workload)
            except ApiError as exc:
                if not exc.not_found:
                    raise
                self.available = False
        return self.by_uid.get(metadata.get("uid") or "")

    def position(self, workload: dict) -> Position | None:
        from .waiting import estimated_positions, queue_name, visibility_positions

        queue = queue_name(workload)
        if not queue:
            return None
        metadata = workload.get("metadata") or {}
        name = str(metadata.get("name"))
        namespace = metadata.get("namespace") or self.namespace
        key = (namespace, queue)
        if key not in self.positions:
            try:
                summary = self.kube.get(
                    PENDING_WORKLOADS.path(namespace, queue, "pendingworkloads")
                )
                self.positions[key] = visibility_positions(summary)
            except ApiError as exc:
                if exc.status not in (403, 404, 503):
                    raise
                self.positions[key] = {}
        if name not in self.positions[key]:  # not served, or beyond what the summary lists
            estimated = self.estimated.get(key)
            if estimated is None:
                neighbours = [
                    w
                    for w in (self.by_uid or {}).values()
                    if (w.get("metadata") or {}).get("namespace", namespace) == namespace
                ]
                estimated = estimated_positions(queue, neighbours)
                self.estimated[key] = estimated
            return estimated.get(name)
        return self.positions[key][name]


@dataclass(frozen=True)
class Explained:
    state: State
    queue: str = ""  # the LocalQueue, when Kueue queues the job
    position: Position | None = None  # while it waits for quota

    @property
    def queue_column(self) -> str:
        """``team-a 2/3`` (2nd of 3 waiting), ``team-a`` once admitted, ``-`` when not queued."""
        if not self.queue:
            return "-"
        if self.position is None:
            return self.queue
        pending = f"/{self.position.pending}" if self.position.pending else ""
        return f"{self.queue} {self.position.index + 1}{pending}"


def explained(
    kube: Kube, found: Found, kueue: KueueView | None = None, pods: list[dict] | None = None
) -> Explained:
    """The job's state with, while it waits, why: Kueue's verdict and the queue position, or
    the scheduler's verdict on pods that do not fit (``pods``: its pods, when already read)."""
    kueue = kueue or KueueView(kube)
    workload = kueue.workload_of(found.obj)
    position_of = kueue.position if isinstance(kueue, NamespaceKueue) else None
    return explain_observed(kube, found, state_of(found.obj, workload), workload, pods, position_of)


def explain_observed(
    kube: Kube,
    found: Found,
    state: State,
    workload: dict | None,
    pods: list[dict] | None = None,
    position_of: Callable[[dict], Position | None] | None = None,
) -> Explained:
    """:func:`explained` for a state already computed from the job and its Workload
    (``position_of``: its place in the queue, when already known)."""
    from dataclasses import replace

    from .state import PENDING, RUNNING, running_since
    from .waiting import explain, is_pending, queue_name

    queue = queue_name(workload) if workload else ""
    if state.finished:
        return Explained(with_failed_job(kube, found, state, pods), queue)
    if state.phase == PENDING and workload and is_pending(workload):
        position = position_of(workload) if position_of else queue_position(kube, workload)
        return Explained(explain(state, workload, position), queue, position)
    if pods is None:
        pods = list_pods(kube, found)
    if state.phase == RUNNING and state.since is None:
        state = replace(state, since=running_since(pods))
    return Explained(explain(state, workload, pods=pods), queue)


def with_failed_job(
    kube: Kube, found: Found, state: State, pods: list[dict] | None = None
) -> State:
    """A failed job's state with why: for a JobSet, its child Job's reason (issue 22: JobSet's
    own message names only the Job, the Job's names the pod and, for a pod failure policy rule,
    the exit code); for any kind, the first pod to fail, its container, exit code and reason
    (OOMKilled, Evicted, DeadlineExceeded, Error)."""
    from dataclasses import replace

    from .state import FAILED, pod_failure

    if state.phase != FAILED:
        return state
    state = _with_failed_child(kube, found, state)
    try:
        why = pod_failure(list_pods(kube, found) if pods is None else pods)
    except ApiError:
        return state
    return replace(state, reason=f"{state.reason}; {why}") if why else state


def _with_failed_child(kube: Kube, found: Found, state: State) -> State:
    from dataclasses import replace

    from .state import true_conditions

    if found.resource.kind != "JobSet":
        return state
    try:
        jobs = kube.get(
            JOB.path(found.namespace),
            labelSelector=f"jobset.sigs.k8s.io/jobset-name={found.name}",
        ).get("items")
    except ApiError:
        return state
    failed = []
    for job in jobs or []:
        condition = true_conditions(job).get("Failed")
        if condition:
            failed.append((condition.get("lastTransitionTime") or "", job, condition))
    if not failed:
        return state
    _, job, condition = min(failed, key=lambda item: item[0])
    name = (job.get("metadata") or {}).get("name", "")
    why = condition.get("reason") or "Failed"
    message = (condition.get("message") or "").strip()
    detail = f"{why}: {message}" if message else why
    return replace(state, reason=f"{state.reason}; job {name}: {detail}")


def explained_state(kube: Kube, found: Found, kueue: KueueView | None = None) -> State:
    return explained(kube, found, kueue).state


def list_pods(kube: Kube, found: Found) -> list[dict]:
    selector = pod_selector(found.resource.kind, found.name, found.obj)
    pods = list(kube.pages(POD.path(found.namespace), labelSelector=selector))
    if found.resource.kind == "RayJob":  # the submitter Job's pod is not in the Ray cluster
        pods += kube.pages(
            POD.path(found.namespace), labelSelector=f"batch.kubernetes.io/job-name={found.name}"
        )
    return pods


def counts(kube: Kube, found: Found) -> dict:
    return pod_counts(found.resource.kind, list_pods(kube, found))


def managed_jobs(kube: Kube, namespace: str, selector: str | None = None) -> Iterator[Found]:
    """Every job this tool created in the namespace ("" for all; label
    app.kubernetes.io/managed-by, and ``selector`` when given), read page by page: one page of
    objects in memory at a time. A kind whose controller is not installed is skipped."""
    labels = MANAGED_BY_SELECTOR + (f",{selector}" if selector else "")
    for resource in JOB_KINDS:
        try:
            for obj in kube.pages(resource.path(namespace), labelSelector=labels):
                if resource is JOB and _owned_by_another_job(obj):
                    continue
                obj.setdefault("kind", resource.kind)
                obj.setdefault("apiVersion", resource.api_version)
                yield Found(resource, obj)
        except ApiError as exc:
            if not exc.not_found:
                raise


class StuckPods:
    """The namespace's pods the scheduler cannot place, read once (page by page) for ``compile
    list``: what :func:`explained` would otherwise ask of the API server for every job."""

    def __init__(self, kube: Kube, namespace: str):
        from .waiting import unschedulable_pods

        self.pods = [
            pod
            for pod in kube.pages(POD.path(namespace), fieldSelector="status.phase=Pending")
            if unschedulable_pods([pod])[0]
        ]

    def of(self, found: Found) -> list[dict]:
        selectors = [pod_selector(found.resource.kind, found.name, found.obj)]
        if found.resource.kind == "RayJob":
            selectors.append(f"batch.kubernetes.io/job-name={found.name}")
        wanted = [selector.split("=", 1) for selector in selectors]
        return [
            pod
            for pod in self.pods
            if (pod.get("metadata") or {}).get("namespace", found.namespace) == found.namespace
            and any(
                ((pod.get("metadata") or {}).get("labels") or {}).get(key) == value
                for key, value in wanted
            )
        ]


@dataclass(frozen=True)
class Row:
    """One line of ``compile list``."""

    created: str
    name: str
    kind: str
    phase: str
    queue: str
    reason: str
    namespace: str = ""
    annotations: tuple[tuple[str, str], ...] = ()  # the submission record

    def annotation(self, key: str) -> str:
        return dict(self.annotations).get(key, "")


def job_rows(kube: Kube, namespace: str, selector: str | None = None) -> list[Row]:
    """``compile list``: a row per job this tool created (and ``selector`` selects), oldest
    first; ``namespace`` "" is every namespace. Objects are read a page at a time and only
    their row is kept."""
    from .submit import RECORD_ANNOTATIONS

    kueue = NamespaceKueue(kube, namespace)
    stuck = StuckPods(kube, namespace)
    rows = []
    for found in managed_jobs(kube, namespace, selector):
        view = explained(kube, found, kueue, pods=stuck.of(found))
        metadata = found.obj["metadata"]
        annotations = metadata.get("annotations") or {}
        rows.append(
            Row(
                metadata.get("creationTimestamp") or "",
                found.name,
                found.resource.kind,
                view.state.phase,
                view.queue_column,
                view.state.reason,
                found.namespace,
                tuple((key, annotations[key]) for key in RECORD_ANNOTATIONS if key in annotations),
            )
        )
    return sorted(rows, key=lambda row: (row.created, row.namespace, row.name))


# ---------------------------------------------------------------------------------------------
# cancel


def delete(kube: Kube, found: Found, propagation: str = "Foreground") -> bool:
    """Delete the job and (through the garbage collector) its pods; False when it was already gone."""
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
    try:
        kube.request("DELETE", found.resource.path(found.namespace, found.name), body=body)
    except ApiError as exc:
        if exc.not_found:
            return False
        raise
    return True


def wait_gone(
    kube: Kube, resource: Resource, namespace: str, name: str, timeout: float = 120.0
) -> bool:
    """Poll until the object no longer exists (a Foreground deletion waits for its pods)."""
    import time

    deadline = time.monotonic() + timeout
    delay = 0.2
    while time.monotonic() < deadline:
        if _get(kube, resource, namespace, name) is None:
            return True
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    return False
