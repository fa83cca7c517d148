"""Where the three job kinds keep their pods, as CEL over ``object``.

A *group* is a set of identical pods: one replicated job of a JobSet; the head, one worker group
or the submitter of a RayJob; the pod template of a Job. Each admission policy has a variable
``groups``: one map per group with its label, the manifest type it stands for, its pod count, its
replicas and what one of its pods asks for (cpus, memoryGB, gpus). Every check is written once
against ``variables.groups``; only the variable differs between kinds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

GPU = "nvidia.com/gpu"
GIB = 1 << 30


def lit(value) -> str:
    """A CEL literal: JSON's string escapes are CEL's too (``\\uXXXX`` included)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@dataclass(frozen=True)
class Kind:
    name: str  # JobSet
    group: str  # jobset.x-k8s.io
    version: str
    resource: str
    groups: str  # CEL: the list of group maps
    deadlines: tuple[
        tuple[str, str], ...
    ]  # (list to iterate or "", CEL of the spec with the field)
    operators: tuple[str, ...]

    def type_filter(self, type_name: tuple) -> str | None:
        """CEL over a group ``g``: it stands for the manifest type ``type_name`` ("worker", or
        ("Workers", group) for kuberay); None when no group of this kind can."""
        if self.name == "RayJob":
            if type_name in (("Head",), ("Job",)):
                return f"g.type == {lit(type_name[0])}"
            if type_name[0] == "Workers" and len(type_name) == 2:
                if type_name[1] == "*":
                    return 'g.type.startsWith("Workers/")'
                return f"g.type == {lit('Workers/' + type_name[1])}"
            return None
        return f"g.type == {lit(type_name[0].lower())}" if len(type_name) == 1 else None


def _default(expr: str, field: str, fallback: str) -> str:
    return f"(has({expr}.{field}) ? {expr}.{field} : {fallback})"


def _job_pods(spec: str) -> str:
    """Pods a Job runs over its life: completions, else parallelism, else 1 (as `compile` counts)."""
    return f"(has({spec}.completions) ? {spec}.completions : {_default(spec, 'parallelism', '1')})"


def _resource(container: str, resource: str, first: str, second: str) -> str:
    """CEL double: the container's quantity of ``resource`` from ``first`` (requests or limits),
    else ``second``, else 0."""

    def one(where: str, otherwise: str) -> str:
        holder = f"{container}.resources.{where}"
        return (
            f"((has({container}.resources) && has({holder}) && {lit(resource)} in {holder}) ? "
            f"quantity(string({holder}[{lit(resource)}])).asApproximateFloat() : {otherwise})"
        )

    return one(first, one(second, "0.0"))


def container_amount(container: str, name: str) -> str:
    """CEL double: what one container asks for, in the policy language's units (cpus, memoryGB,
    gpus). Requests count, else limits (Kubernetes' own default); GPUs are limits."""
    if name == "cpus":
        return _resource(container, "cpu", "requests", "limits")
    if name == "memoryGB":
        return f"({_resource(container, 'memory', 'requests', 'limits')} / {float(GIB)!r})"
    if name == "gpus":
        return _resource(container, GPU, "limits", "requests")
    raise ValueError(name)


def pod_amount(pod: str, name: str) -> str:
    """CEL double: what one pod asks for: its containers' sum, or its largest init container when
    that is more (as the scheduler counts)."""
    total = f"({pod}.containers.map(c, {container_amount('c', name)}) + [0.0]).sum()"
    init = f"{pod}.initContainers.map(c, {container_amount('c', name)})"
    return (
        f"((has({pod}.initContainers) && size({pod}.initContainers) > 0) ? "
        f"[{total}, {init}.max()].max() : {total})"
    )


def _group(label: str, type_: str, pods: str, replicas: str, pod: str) -> str:
    """A group as a CEL map; values are ``dyn`` since the API server's CEL wants the values of
    one map literal to have one type."""
    values = {
        "label": label,
        "type": type_,
        "pods": pods,
        "replicas": replicas,
        "cpus": pod_amount(pod, "cpus"),
        "memoryGB": pod_amount(pod, "memoryGB"),
        "gpus": pod_amount(pod, "gpus"),
        "spec": pod,
    }
    return "{" + ", ".join(f"{lit(key)}: dyn({value})" for key, value in values.items()) + "}"


_RJ = "r.template.spec"
JOBSET = Kind(
    "JobSet",
    "jobset.x-k8s.io",
    "v1alpha2",
    "jobsets",
    "has(object.spec.replicatedJobs) ? object.spec.replicatedJobs.map(r, "
    + _group(
        '"replicated job " + r.name',
        "r.name",
        f"{_default('r', 'replicas', '1')} * {_job_pods(_RJ)}",
        _default("r", "replicas", "1"),
        f"{_RJ}.template.spec",
    )
    + ") : []",
    (("object.spec.replicatedJobs", "r.template.spec"),),
    ("jobset", "pytorch", "xgboost", "jax", "tf"),
)

_RAY = "object.spec.rayClusterSpec"
_AUTOSCALING = f"(has({_RAY}.enableInTreeAutoscaling) && {_RAY}.enableInTreeAutoscaling)"
_WORKER_REPLICAS = (
    f"(({_AUTOSCALING} && has(g.maxReplicas)) ? g.maxReplicas : {_default('g', 'replicas', '0')})"
)
RAYJOB = Kind(
    "RayJob",
    "ray.io",
    "v1",
    "rayjobs",
    f"(has({_RAY}) ? ["
    + _group('"head"', '"Head"', "1", "1", f"{_RAY}.headGroupSpec.template.spec")
    + "] : []) + "
    + f"((has({_RAY}) && has({_RAY}.workerGroupSpecs)) ? {_RAY}.workerGroupSpecs.map(g, "
    + _group(
        '"worker group " + g.groupName',
        '"Workers/" + g.groupName',
        f"{_WORKER_REPLICAS} * {_default('g', 'numOfHosts', '1')}",
        _WORKER_REPLICAS,
        "g.template.spec",
    )
    + ") : []) + (has(object.spec.submitterPodTemplate) ? ["
    + _group('"submitter"', '"Job"', "1", "1", "object.spec.submitterPodTemplate.spec")
    + "] : [])",
    (("", "object.spec"),),
    ("kuberay", "ray"),
)

JOB = Kind(
    "Job",
    "batch",
    "v1",
    "jobs",
    "["
    + _group(
        '"pod template"',
        "(size(object.spec.template.spec.containers) > 0 ? "
        "object.spec.template.spec.containers[0].name : '')",
        _job_pods("object.spec"),
        "1",
        "object.spec.template.spec",
    )
    + "]",
    (("", "object.spec"),),
    ("batchjob",),
)

KINDS = (JOBSET, RAYJOB, JOB)
GROUPS = "variables.groups"


def containers(pod: str, check) -> str:
    """CEL: ``check(c)`` holds for every container and init container of ``pod``."""
    return (
        f"{pod}.containers.all(c, {check('c')}) && "
        f"(!has({pod}.initContainers) || {pod}.initContainers.all(c, {check('c')}))"
    )
