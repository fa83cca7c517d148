"""What ``compile admit --live`` reads of the cluster: Kueue's ClusterQueues, ResourceFlavors,
LocalQueues, WorkloadPriorityClasses, Cohorts and every Workload, through the client's list
functions (no visibility API needed)."""

from __future__ import annotations

from .client import Kube
from .errors import ApiError
from .kinds import WORKLOAD, Resource

GROUP, VERSION = "kueue.x-k8s.io", "v1beta2"
CLUSTER_QUEUE = Resource("ClusterQueue", GROUP, VERSION, "clusterqueues", namespaced=False)
RESOURCE_FLAVOR = Resource("ResourceFlavor", GROUP, VERSION, "resourceflavors", namespaced=False)
LOCAL_QUEUE = Resource("LocalQueue", GROUP, VERSION, "localqueues")
PRIORITY_CLASS = Resource(
    "WorkloadPriorityClass", GROUP, VERSION, "workloadpriorityclasses", namespaced=False
)
COHORT = Resource("Cohort", GROUP, VERSION, "cohorts", namespaced=False)
# a LimitRange's defaults reach the pods (and Kueue's count of them) at creation
LIMIT_RANGE = Resource("LimitRange", "", "v1", "limitranges")


def _listed(kube: Kube, resource: Resource, optional: bool = False) -> list[dict]:
    try:
        items = list(kube.pages(resource.path()))
    except ApiError as exc:
        if optional and exc.not_found:
            return []
        raise
    for item in items:
        item.setdefault("kind", resource.kind)
    return items


def kueue_objects(kube: Kube) -> tuple[list[dict], list[dict]]:
    """(Kueue's queue objects and the LimitRanges, every Workload) as the cluster holds them now."""
    from concurrent.futures import ThreadPoolExecutor

    kinds = (CLUSTER_QUEUE, RESOURCE_FLAVOR, LOCAL_QUEUE, PRIORITY_CLASS, LIMIT_RANGE)
    with ThreadPoolExecutor(4, thread_name_prefix="compile-admit") as pool:  # side by side
        workloads = pool.submit(_listed, kube, WORKLOAD)
        cohorts = pool.submit(_listed, kube, COHORT, True)
        listed = [pool.submit(_listed, kube, resource) for resource in kinds]
        objects = [obj for future in listed for obj in future.result()] + cohorts.result()
        return objects, workloads.result()
