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
    """(Kueue's queue objects, every Workload) as the cluster holds them now."""
    objects = []
    for resource in (CLUSTER_QUEUE, RESOURCE_FLAVOR, LOCAL_QUEUE, PRIORITY_CLASS):
        objects += _listed(kube, resource)
    objects += _listed(kube, COHORT, optional=True)
    return objects, _listed(kube, WORKLOAD)
