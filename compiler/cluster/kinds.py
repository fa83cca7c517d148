"""Where each kind lives in the API, and which pod is which: pure functions over plain dicts.

A pod's identity is its type (replicated job, Ray group, the Job's container), the index of its
Job within the type and its completion index; ``worker-3-0`` names the pod of Job 3 of type
``worker`` at completion index 0. Rank 0 is the pod a user means by "the logs of my job".
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

MANAGED_BY_SELECTOR = "app.kubernetes.io/managed-by=manifest-compiler"
FIELD_MANAGER = "manifest-compiler"


@dataclass(frozen=True)
class Resource:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def short(self) -> str:
        """kubectl's spelling: ``jobset.jobset.x-k8s.io``."""
        return f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{_segment(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{_segment(name)}"
        if subresource:
            base += f"/{_segment(subresource)}"
        return base


def _segment(text: str) -> str:
    """One URL path segment: '/', '?', '#', '%' and '..' cannot reach another path or a query."""
    encoded = quote(str(text), safe="")
    return encoded.replace(".", "%2E") if encoded.strip(".") == "" else encoded


JOBSET = Resource("JobSet", "jobset.x-k8s.io", "v1alpha2", "jobsets")
RAYJOB = Resource("RayJob", "ray.io", "v1", "rayjobs")
JOB = Resource("Job", "batch", "v1", "jobs")
POD = Resource("Pod", "", "v1", "pods")
WORKLOAD = Resource("Workload", "kueue.x-k8s.io", "v1beta2", "workloads")

# the kinds a submission's main object may have, in the order a bare NAME is looked up: a RayJob
# makes a submitter Job of its own name, so the Job comes last
JOB_KINDS = (JOBSET, RAYJOB, JOB)

_OTHER_RESOURCES = (
    Resource("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims"),
    Resource("Service", "", "v1", "services"),
    Resource("ConfigMap", "", "v1", "configmaps"),
    Resource("Secret", "", "v1", "secrets"),
    Resource("ServiceAccount", "", "v1", "serviceaccounts"),
    Resource("RayCluster", "ray.io", "v1", "rayclusters"),
    POD,
    WORKLOAD,
)
_BY_KIND = {resource.kind: resource for resource in (*JOB_KINDS, *_OTHER_RESOURCES)}
_BY_NAME = {
    **{r.kind.lower(): r for r in JOB_KINDS},
    **{r.plural: r for r in JOB_KINDS},
    **{r.short: r for r in JOB_KINDS},
}


def resource_for(obj: dict) -> Resource:
    """The resource of an object the compiler emitted; KeyError for a kind it never emits."""
    kind = str(obj.get("kind"))
    resource = _BY_KIND[kind]
    if obj.get("apiVersion") != resource.api_version:
        group, _, version = obj.get("apiVersion", "").rpartition("/")
        return Resource(kind, group, version, resource.plural, resource.namespaced)
    return resource


class BadReference(ValueError):
    pass


def parse_reference(text: str) -> tuple[Resource | None, str]:
    """``NAME`` or ``KIND/NAME`` (kind as kubectl spells it: jobset, jobsets, jobset.jobset.x-k8s.io)."""
    if "/" in text:
        kind, _, name = text.partition("/")
        resource = _BY_NAME.get(kind.lower())
        if resource is None:
            known = ", ".join(r.kind.lower() for r in JOB_KINDS)
            raise BadReference(f"unknown kind {kind!r} in {text!r}; use one of {known}")
        return resource, name
    return None, text


def main_object(objects: list[dict]) -> dict | None:
    """The job among a submission's objects (the others are its PVCs, Services...)."""
    kinds = {r.kind for r in JOB_KINDS}
    return next((obj for obj in objects if obj.get("kind") in kinds), None)


def pod_selector(kind: str, name: str, job: dict | None = None) -> str:
    """A label selector for the pods of a job (for a RayJob, its cluster's and its submitter's)."""
    if kind == "JobSet":
        return f"jobset.sigs.k8s.io/jobset-name={name}"
    if kind == "RayJob":
        cluster = ((job or {}).get("status") or {}).get("rayClusterName")
        if cluster:
            return f"ray.io/cluster={cluster}"
        return f"ray.io/originated-from-cr-name={name}"
    return f"batch.kubernetes.io/job-name={name}"


# ---------------------------------------------------------------------------------------------
# pod identity


@dataclass(frozen=True, order=True)
class PodKey:
    rank: tuple  # sort order: rank 0 first
    type: str
    job_index: int | None
    pod_index: int | None

    @property
    def prefix(self) -> str:
        parts = [self.type]
        if self.job_index is not None:
            parts.append(str(self.job_index))
        if self.pod_index is not None:
            parts.append(str(self.pod_index))
        return "-".join(parts)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _meta(pod: dict, key: str):
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    return labels.get(key, annotations.get(key))


COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def pod_key(kind: str, pod: dict, ordinal: int = 0) -> PodKey:
    """Who a pod is within its job. ``ordinal`` numbers Ray pods of one group, which have no index."""
    completion = _int(_meta(pod, COMPLETION_INDEX))
    if kind == "JobSet":
        rjob = _meta(pod, "jobset.sigs.k8s.io/replicatedjob-name") or "pod"
        job_index = _int(_meta(pod, "jobset.sigs.k8s.io/job-index"))
        global_index = _int(_meta(pod, "jobset.sigs.k8s.io/job-global-index"))
        order = (global_index if global_index is not None else 1 << 30, completion or 0)
        return PodKey(order, rjob, job_index, completion)
    if kind == "RayJob":
        node_type = _meta(pod, "ray.io/node-type")
        if _meta(pod, "batch.kubernetes.io/job-name"):
            return PodKey((0, 0), "submitter", None, None)
        if node_type == "head":
            return PodKey((1, 0), "head", None, None)
        group = _meta(pod, "ray.io/group") or "worker"
        return PodKey((2, ordinal), group, ordinal, None)
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    name = containers[0].get("name") or "pod"
    return PodKey((completion if completion is not None else 0,), name, completion, None)


def _created(pod: dict) -> str:
    return (pod.get("metadata") or {}).get("creationTimestamp") or ""


def identify(kind: str, pods: list[dict]) -> list[tuple[PodKey, dict]]:
    """Every pod with its identity, rank 0 first; of several pods for one place (a retried pod),
    only the newest."""
    ordinals: dict[str, int] = {}
    keyed: dict[tuple, tuple[PodKey, dict]] = {}
    for pod in sorted(pods, key=lambda p: (p.get("metadata") or {}).get("name") or ""):
        group = _meta(pod, "ray.io/group") or ""
        ordinal = ordinals.get(group, 0)
        key = pod_key(kind, pod, ordinal)
        if kind == "RayJob" and key.type not in ("head", "submitter"):
            ordinals[group] = ordinal + 1
        place = (key.type, key.job_index, key.pod_index)
        if place not in keyed or _created(pod) > _created(keyed[place][1]):
            keyed[place] = (key, pod)
    return sorted(keyed.values(), key=lambda item: (item[0].rank, item[0].prefix))


def select_pods(
    kind: str,
    pods: list[dict],
    everything: bool = False,
    type_: str | None = None,
    index: int | None = None,
) -> list[tuple[PodKey, dict]]:
    """Rank 0 by default; ``everything``: all; ``type_``/``index``: the pods of that type and Job index."""
    identified = identify(kind, pods)
    if everything:
        return identified
    if type_ is not None or index is not None:
        chosen = [
            (key, pod)
            for key, pod in identified
            if (type_ is None or key.type == type_)
            and (index is None or key.job_index == index or (key.job_index is None and index == 0))
        ]
        return chosen
    return identified[:1]


def pod_counts(kind: str, pods: list[dict]) -> dict[str, dict[str, int]]:
    """Pods per type and phase: {"worker": {"Running": 3, "Succeeded": 1}}."""
    counts: dict[str, dict[str, int]] = {}
    for pod in pods:
        key = pod_key(kind, pod)
        phase = (pod.get("status") or {}).get("phase") or "Unknown"
        per_type = counts.setdefault(key.type, {})
        per_type[phase] = per_type.get(phase, 0) + 1
    return counts


def age(created: str | None, now) -> str:
    """kubectl's age: ``45s``, ``12m``, ``3h4m``, ``2d5h``."""
    from datetime import datetime

    if not created:
        return "-"
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    days = hours // 24
    return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"


def split_path(path: str) -> tuple[str, str, list[str]] | None:
    """An API path as (group, namespace or "", what follows: plural, name, subresource);
    None for a path outside ``/api`` and ``/apis``."""
    parts = [part for part in path.split("?", 1)[0].split("/") if part]
    if parts[:1] == ["api"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if len(rest) >= 3 and rest[0] == "namespaces":
        return group, rest[1], rest[2:]
    return group, "", rest


def answer_of_path(path: str) -> tuple[str | None, bool | None]:
    """What an API path answers: (the kind of its objects, whether it is a list of them).
    (None, None) for a subresource or a resource this tool does not know."""
    split = split_path(path)
    if split is None or not split[2] or len(split[2]) > 2:
        return None, None
    group, _, rest = split
    for resource in _BY_KIND.values():
        if resource.group == group and resource.plural == rest[0]:
            return resource.kind, len(rest) == 1
    return None, None
