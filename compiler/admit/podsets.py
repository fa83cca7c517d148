"""Pod sets as Kueue v0.19.2 builds them from a compiled object (pkg/controller/jobs/{job,jobset,
rayjob,raycluster}) and each pod's requests as Kueue counts them (pkg/workload, limitrange
TotalRequests): containers summed, sidecar init containers added, an init container's own peak
when larger, limits standing in for missing requests, plus the pod's overhead."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import quantity

JOB_MIN_PARALLELISM = "kueue.x-k8s.io/job-min-parallelism"
# KubeRay's default submitter container (Kueue's rayjob defaultSubmitterResources)
SUBMITTER_REQUESTS = {"cpu": 500, "memory": 200 * (1 << 20)}


@dataclass(frozen=True)
class PodSet:
    name: str
    count: int
    requests: dict[str, int]  # one pod's, Kueue's units (quantity.amount)
    node_selector: dict = field(default_factory=dict)
    affinity_terms: tuple = ()  # required nodeSelectorTerms (any may match)
    tolerations: tuple = ()

    def total(self) -> dict[str, int]:
        return {name: value * self.count for name, value in self.requests.items()}


def _int(value, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _dig(data, *keys):
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def pod_sets(obj: dict) -> tuple[list[PodSet], list[str]]:
    """The pod sets of a JobSet, RayJob or batch Job, and why Kueue's accounting of it is beyond
    this model (partial admission, autoscaling, ...)."""
    kind = obj.get("kind")
    found = obj.get("spec")
    spec: dict = found if isinstance(found, dict) else {}
    if kind == "Job":
        return _job(obj, spec)
    if kind == "JobSet":
        return _jobset(spec)
    if kind == "RayJob":
        return _rayjob(spec)
    return [], [f"Kueue's accounting of a {kind} is not modelled (JobSet, RayJob, Job are)"]


def _job(obj: dict, spec: dict) -> tuple[list[PodSet], list[str]]:
    unknown = []
    if JOB_MIN_PARALLELISM in (_dig(obj, "metadata", "annotations") or {}):
        unknown.append("partial admission (job-min-parallelism) is not modelled")
    parallelism = _int(spec.get("parallelism"), 1)
    completions = spec.get("completions")
    count = min(parallelism, completions) if isinstance(completions, int) else parallelism
    return [_pod_set("main", count, spec.get("template"))], unknown


def _jobset(spec: dict) -> tuple[list[PodSet], list[str]]:
    out = []
    for replicated in spec.get("replicatedJobs") or []:
        job = _dig(replicated, "template", "spec") or {}
        per_replica = _int(job.get("parallelism"), 1)
        completions = job.get("completions")
        if isinstance(completions, int):
            per_replica = min(per_replica, completions)
        count = _int(replicated.get("replicas"), 1) * per_replica
        out.append(_pod_set(str(replicated.get("name")), count, job.get("template")))
    return out, []


def _rayjob(spec: dict) -> tuple[list[PodSet], list[str]]:
    cluster = spec.get("rayClusterSpec") or {}
    unknown = []
    if cluster.get("enableInTreeAutoscaling"):
        unknown.append("Ray autoscaling (Kueue adds the autoscaler sidecar) is not modelled")
    if cluster.get("gcsFaultToleranceOptions"):
        unknown.append("GCS fault tolerance (Kueue adds a Redis clean-up) is not modelled")
    head_template = _dig(cluster, "headGroupSpec", "template")
    mode = spec.get("submissionMode") or "K8sJobMode"  # the CRD's default
    head = _pod_set("head", 1, head_template)
    if mode == "SidecarMode":
        head = _with_container(head, SUBMITTER_REQUESTS)
    out = [head]
    for group in cluster.get("workerGroupSpecs") or []:
        count = _int(group.get("replicas"), 1) * max(1, _int(group.get("numOfHosts"), 1))
        out.append(_pod_set(str(group.get("groupName")), count, group.get("template")))
    if mode == "K8sJobMode":
        submitter = spec.get("submitterPodTemplate")
        if submitter is None:
            out.append(PodSet("submitter", 1, dict(SUBMITTER_REQUESTS)))
        else:
            out.append(_pod_set("submitter", 1, submitter))
    return out, unknown


def _with_container(pod_set: PodSet, requests: dict[str, int]) -> PodSet:
    merged = dict(pod_set.requests)
    for name, value in requests.items():
        merged[name] = merged.get(name, 0) + value
    return PodSet(
        pod_set.name,
        pod_set.count,
        merged,
        pod_set.node_selector,
        pod_set.affinity_terms,
        pod_set.tolerations,
    )


def _pod_set(name: str, count: int, template) -> PodSet:
    pod = _dig(template, "spec") or {}
    terms = _dig(
        pod,
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    return PodSet(
        name,
        count,
        pod_requests(pod),
        dict(pod.get("nodeSelector") or {}),
        tuple(terms or ()),
        tuple(pod.get("tolerations") or ()),
    )


def container_requests(container: dict) -> dict[str, int]:
    resources = container.get("resources") or {}
    requests = dict(resources.get("limits") or {})  # a limit stands in for a missing request
    requests.update(resources.get("requests") or {})
    out = {}
    for name, value in requests.items():
        counted = quantity.amount(name, value)
        if counted:
            out[name] = counted
    return out


def _add(into: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    out = dict(into)
    for name, value in more.items():
        out[name] = out.get(name, 0) + value
    return out


def _peak(into: dict[str, int], other: dict[str, int]) -> dict[str, int]:
    out = dict(into)
    for name, value in other.items():
        out[name] = max(out.get(name, 0), value)
    return out


def pod_requests(pod: dict) -> dict[str, int]:
    """One pod's requests as the scheduler and Kueue count them."""
    total: dict[str, int] = {}
    for container in pod.get("containers") or []:
        total = _add(total, container_requests(container))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in pod.get("initContainers") or []:
        requests = container_requests(container)
        if container.get("restartPolicy") == "Always":
            sidecars = _add(sidecars, requests)
            init_peak = _peak(init_peak, sidecars)
        else:
            init_peak = _peak(init_peak, _add(sidecars, requests))
    total = _peak(_add(total, sidecars), init_peak)
    for name, value in (pod.get("overhead") or {}).items():
        counted = quantity.amount(name, value)
        if counted:
            total[name] = total.get(name, 0) + counted
    return total
