"""Placement (SPEC 2.7): Kueue's podset topology annotations on the pod templates.

Kueue (v0.19.2, pkg/controller/jobframework/tas.go) reads a topology request from the metadata of
each pod set's template, never from the job's own metadata. A pod set is a JobSet replicated job
(``replicas x min(parallelism, completions)`` pods), a RayJob's head (1 pod) or worker group
(``replicas x numOfHosts`` pods), or a batch Job's template (``parallelism`` pods).

What shares one domain (``each``):

- ``type``: each pod set on its own: ``podset-required-topology`` or ``podset-preferred-topology``.
- ``workload``: every pod set whose placement says so, together. One pod set needs no more; two
  are tied by ``podset-group-name``, which Kueue allows for exactly two pod sets, one of them a
  single pod (tas_validation.go ValidatePodSetGroupingTopology), with the same request.
- ``job``: each child Job's pods (a slice of ``min(parallelism, completions)`` pods):
  ``podset-slice-required-topology`` with ``podset-slice-size``; Kueue has no preferred slice.

This module assumes a placement that validation (compiler/validate/placement.py) accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .naming import HEAD, HEAD_PATH, type_path, worker_group_path
from .shape import job_shape, tpu_hosts, types_in_order

TYPE_CHECKING = False  # typing is for the type checker: a cold compile never imports it
if TYPE_CHECKING:
    from typing import Any

KUEUE = "kueue.x-k8s.io/"
REQUIRED = KUEUE + "podset-required-topology"
PREFERRED = KUEUE + "podset-preferred-topology"
SLICE_REQUIRED = KUEUE + "podset-slice-required-topology"
SLICE_SIZE = KUEUE + "podset-slice-size"
GROUP_NAME = KUEUE + "podset-group-name"
JOBLESS = ("batchjob", "kuberay", "ray")  # one Job (placed whole), or no child Jobs at all


@dataclass(frozen=True)
class PodSet:
    """One pod template Kueue makes a pod set of, with the placement that applies to it."""

    name: str  # the type as the manifest names it (a Ray worker group by its name, "Head")
    path: tuple  # the type's logical path in the manifest: ("spec", "types", name[, group])
    pods: int  # Kueue's count of the pod set (pods at once)
    pods_per_job: int  # pods of one child Job at once (a Ray group: the whole group)
    resources: Any
    placement: Any  # the type's own placement, else spec.placement, else None
    own: bool  # the placement is the type's own (not spec.placement)

    @property
    def mode(self) -> str:
        return self.placement.mode or "required"

    @property
    def each(self) -> str:
        return self.placement.each or "workload"

    def sliced(self, operator: str) -> bool:
        """Whether each child Job is placed on its own (a JobSet's ``each: job``)."""
        return self.each == "job" and operator not in JOBLESS


def pod_sets(operator: str, types, spec_placement) -> list[PodSet]:
    """The workload's pod sets in emission order, each with its effective placement."""

    def made(name, path, pods, per_job, typed) -> PodSet:
        own = getattr(typed, "placement", None)
        return PodSet(
            name, path, pods, per_job, typed.resources, own or spec_placement, own is not None
        )

    if operator in ("kuberay", "ray"):
        out = [made(HEAD, HEAD_PATH, 1, 1, types.Head)]
        for group in types.Workers:
            pods = group.count * tpu_hosts(group.resources)
            out.append(made(group.name, worker_group_path(group.name), pods, pods, group))
        return out
    if operator == "batchjob":
        ((name, job_type),) = types.items()
        count = job_type.count or 1  # Kueue counts min(parallelism, completions) pods
        pods = count * min(job_type.parallelisms or 1, job_type.completions or 1)
        return [made(name, type_path(name), pods, pods, job_type)]
    out = []
    for name, job_type in types_in_order(operator, types):
        replicas, completions, parallelism = job_shape(operator, job_type)
        per_job = min(parallelism, completions)
        out.append(made(name, type_path(name), replicas * per_job, per_job, job_type))
    return out


def together(sets: list[PodSet]) -> list[PodSet]:
    """The pod sets whose placement puts the whole workload (them together) in one domain."""
    return [s for s in sets if s.placement is not None and s.each == "workload"]


def topology_annotations(operator: str, types, spec_placement, levels, group_name: str) -> dict:
    """Pod set path (``PodSet.path``) -> the topology annotations of its template."""
    labels = {level.name: level.nodeLabel for level in levels or ()}
    sets = pod_sets(operator, types, spec_placement)
    grouped = together(sets)
    out: dict = {}
    for pod_set in sets:
        placement = pod_set.placement
        if placement is None or placement.within not in labels:
            continue
        label = labels[placement.within]
        if pod_set.sliced(operator):
            out[pod_set.path] = {SLICE_REQUIRED: label, SLICE_SIZE: str(pod_set.pods_per_job)}
            continue
        wanted = {(PREFERRED if pod_set.mode == "preferred" else REQUIRED): label}
        if len(grouped) == 2 and pod_set in grouped:
            wanted[GROUP_NAME] = group_name
        out[pod_set.path] = wanted
    return out
