"""What every target needs: the validated manifest, its name, namespace and object metadata."""

from __future__ import annotations

from dataclasses import dataclass

from ..model.records import Manifest
from ..model.scalars import duration_seconds
from .pod import GPU_PRODUCT_LABEL, WORKLOAD_LABEL, Context

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

MANAGED_BY = {"app.kubernetes.io/managed-by": "manifest-compiler"}
PROJECT_LABEL = "manifest-compiler/project"
SOURCE_ANNOTATION = "manifest-compiler/source"
DIGEST_ANNOTATION = "manifest-compiler/digest"
RULES_DIGEST_ANNOTATION = "manifest-compiler/policy-digest"  # policies and template in force
VERSION_ANNOTATION = "manifest-compiler/compiler-version"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"


def pinned_queue(queue: str, worker: str) -> str:
    """The LocalQueue that sends ``queue``'s workloads to one worker cluster only (SPEC 2.9)."""
    return f"{queue}-{worker}"


@dataclass(frozen=True)
class Workload:
    """A validated workload with everything emission needs."""

    manifest: Manifest
    types: Any  # dict[str, JobType] or KuberayTypes/RayTypes
    name: str
    namespace: str | None
    project: str | None
    source: str
    digest: str
    rules_digest: str = ""  # of the policies and the template in force (compiler/provenance.py)
    compiler_version: str = ""
    extra_annotations: tuple = ()  # (key, value) pairs added by `submit` (who, commit, image digest)
    image: str | None = (
        None  # spec.image pinned to a digest (--image-digest); None: spec.image as written
    )
    gpu_product_label: str = GPU_PRODUCT_LABEL  # a global policy's spec.cluster.gpuProductLabel
    rdma: Any = None  # RDMA network -> RdmaNetwork, the global policies' spec.cluster.rdma
    topology: tuple = ()  # TopologyLevel records, the global policies' spec.cluster.topology
    worker: str | None = None  # engineName where the policies name worker clusters (SPEC 2.9)

    @property
    def spec(self):
        return self.manifest.spec

    @property
    def operator(self) -> str:
        return self.manifest.spec.operator

    def pod_context(self, shared_claim: str | None = None) -> Context:
        return Context(
            self.name,
            self.spec,
            shared_volume_claim=shared_claim,
            pod_labels=self.pod_labels(),
            image=self.image or self.spec.image,
            gpu_product_label=self.gpu_product_label,
            rdma=dict(self.rdma or {}),
        )

    def placement_annotations(self) -> dict:
        """Pod set path -> Kueue's topology annotations of its pod template (SPEC 2.7)."""
        from .placement import topology_annotations

        return topology_annotations(
            self.operator, self.types, self.spec.placement, self.topology, self.name
        )

    def deadline_seconds(self) -> int | None:
        if self.spec.timeout:
            return duration_seconds(self.spec.timeout)
        return self.spec.activeDeadlineSeconds

    def labels(self, queued: bool = True) -> dict:
        labels = dict(MANAGED_BY)
        labels[WORKLOAD_LABEL] = self.name
        if self.project:
            labels[PROJECT_LABEL] = self.project
        if queued and self.spec.queue:
            queue = self.spec.queue
            labels[QUEUE_LABEL] = pinned_queue(queue, self.worker) if self.worker else queue
        if queued and self.spec.priority:
            labels[PRIORITY_LABEL] = self.spec.priority
        labels.update(self.spec.labels or {})
        return labels

    def pod_labels(self) -> dict:
        labels = {WORKLOAD_LABEL: self.name}
        labels.update(self.spec.labels or {})
        return labels

    def annotations(self) -> dict:
        annotations = {SOURCE_ANNOTATION: self.source, DIGEST_ANNOTATION: self.digest}
        if self.rules_digest:
            annotations[RULES_DIGEST_ANNOTATION] = self.rules_digest
        if self.compiler_version:
            annotations[VERSION_ANNOTATION] = self.compiler_version
        annotations.update(dict(self.extra_annotations))
        annotations.update(self.spec.annotations or {})
        return annotations

    def metadata(self, name: str | None = None) -> dict:
        """Metadata of the job object, or of a companion (Service, claim) when ``name`` is given:
        only the job itself carries the Kueue queue and priority labels."""
        metadata: dict = {"name": name or self.name}
        if self.namespace:
            metadata["namespace"] = self.namespace
        metadata["labels"] = self.labels(queued=name is None)
        metadata["annotations"] = self.annotations()
        return metadata
