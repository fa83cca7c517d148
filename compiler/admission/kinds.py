"""Where the three job kinds keep their pods, as CEL over ``object``.

A *group* is a set of identical pods: one replicated job of a JobSet; the head, one worker group
or the submitter of a RayJob; the pod template of a Job; a Pod. Each admission policy has two
variables: ``templates``, one map per group with its label, the manifest type it stands for, its
pod count, its replicas, its pod spec and what an operator adds to it; and ``groups``, the same
with what one of its pods asks for (cpus, memoryGB, gpus), computed once for every kind. Every
check is written once against ``variables.groups``; only ``templates`` differs between kinds.
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
    templates: str  # CEL: the list of template maps
    deadlines: tuple[
        tuple[str, str], ...
    ]  # (list to iterate or "", CEL of the spec with the field)
    operators: tuple[str, ...]

    def type_filter(self, type_name: tuple) -> str | None:
        """CEL over a group ``g``: it stands for the manifest type ``type_name`` ("worker", or
        ("Workers", group) for kuberay); None when no group of this kind can. A Pod stands for
        no type: whoever made it may have labelled it as any, so only rules on every type
        (``spec.types.*``) bind pods; rules on one type bind the workload's groups."""
        if self.name == "Pod":
            return None
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


def _quantity(holder: str, resource: str) -> str:
    return f"quantity(string({holder}[{lit(resource)}])).asApproximateFloat()"


def _one(container: str, resource: str, where: str, otherwise: str) -> str:
    """CEL double: ``container``'s quantity of ``resource`` in ``where`` (requests or limits),
    else ``otherwise``."""
    holder = f"{container}.resources.{where}"
    return (
        f"((has({container}.resources) && has({holder}) && {lit(resource)} in {holder}) ? "
        f"{_quantity(holder, resource)} : {otherwise})"
    )


def _resource(container: str, resource: str, first: str, second: str) -> str:
    """CEL double: the container's quantity of ``resource`` from ``first`` (requests or limits),
    else ``second``, else 0."""
    return _one(container, resource, first, _one(container, resource, second, "0.0"))


# every device resource that is a GPU or a slice of one: each MIG slice counts as one GPU
IS_GPU = (
    f"(k == {lit(GPU)} || k.startsWith('nvidia.com/mig-') || k == 'amd.com/gpu' || "
    "k.startsWith('gpu.intel.com/'))"
)


def _gpus_in(container: str, where: str) -> str:
    holder = f"{container}.resources.{where}"
    return (
        f"((has({container}.resources) && has({holder})) ? "
        f"({holder}.filter(k, {IS_GPU}).map(k, "
        f"quantity(string({holder}[k])).asApproximateFloat()) + [0.0]).sum() : 0.0)"
    )


def container_amount(container: str, name: str) -> str:
    """CEL double: what one container asks for, in the policy language's units (cpus, memoryGB,
    gpus). CPUs: requests, else limits (Kubernetes' own default). Memory: the larger of request
    and limit (a pod may use up to its limit). GPUs: every GPU resource (``nvidia.com/gpu``, MIG
    slices, AMD and Intel GPUs), the larger of limits and requests."""
    if name == "cpus":
        return _resource(container, "cpu", "requests", "limits")
    if name == "memoryGB":
        requested = _one(container, "memory", "requests", "0.0")
        limited = _one(container, "memory", "limits", "0.0")
        return f"([{requested}, {limited}].max() / {float(GIB)!r})"
    if name == "gpus":
        return f"[{_gpus_in(container, 'limits')}, {_gpus_in(container, 'requests')}].max()"
    raise ValueError(name)


_SIDECAR = "(has(c.restartPolicy) && c.restartPolicy == 'Always')"


def pod_amount(pod: str, name: str, extra: str = "0.0") -> str:
    """CEL double: what one pod asks for, as the scheduler counts it or more: its containers,
    native sidecars (init containers with ``restartPolicy: Always``, which keep running) and
    ``extra`` (a container an operator injects) add up; another init container runs alone
    beside the sidecars (counted with all of them, a bound above the scheduler's). Pod-level
    ``resources`` count when larger."""
    amount = container_amount("c", name)
    main = f"(({pod}.containers.map(c, {amount}) + [0.0]).sum() + {extra})"
    sidecars = f"({pod}.initContainers.filter(c, {_SIDECAR}).map(c, {amount}) + [0.0]).sum()"
    init = f"({pod}.initContainers.filter(c, !{_SIDECAR}).map(c, {amount}) + [0.0]).max()"
    total = f"(has({pod}.initContainers) ? [{main}, {init}].max() + {sidecars} : {main})"
    if name == "gpus":
        return total
    return f"(has({pod}.resources) ? [{total}, {container_amount(pod, name)}].max() : {total})"


def _group(
    label: str,
    type_: str,
    pods: str,
    replicas: str,
    pod: str,
    *,
    extra: dict | None = None,
    images: str = "[]",
    implicit: str = "false",
    amounts: dict | None = None,
) -> str:
    """A group's template as a CEL map (values ``dyn``: the API server's CEL wants the values of
    one map literal to have one type). ``extra``: per amount, a container an operator injects;
    ``images``: images of such containers; ``implicit``: a pod the object does not write, whose
    amounts (``amounts``, the operator's defaults) count in totals and maxima only."""
    values = {
        "label": label,
        "type": type_,
        "pods": pods,
        "replicas": replicas,
        "spec": pod,
        "images": images,
        "implicit": implicit,
        "extra": _amounts_map(extra or {}),
    }
    if amounts:
        values["fixed"] = _amounts_map(amounts)
    return "{" + ", ".join(f"{lit(key)}: dyn({value})" for key, value in values.items()) + "}"


def _amounts_map(amounts: dict) -> str:
    return (
        "{"
        + ", ".join(f"{lit(n)}: {amounts.get(n, '0.0')}" for n in ("cpus", "memoryGB", "gpus"))
        + "}"
    )


def _grouped() -> str:
    """CEL: ``variables.templates`` with what one pod of each asks for."""
    keys = ("label", "type", "pods", "replicas", "spec", "images", "implicit")
    values = {key: f"t.{key}" for key in keys}
    for name in ("cpus", "memoryGB", "gpus"):
        values[name] = (
            f"(has(t.fixed) ? t.fixed.{name} : {pod_amount('t.spec', name, f't.extra.{name}')})"
        )
    body = ", ".join(f"{lit(key)}: dyn({value})" for key, value in values.items())
    return f"variables.templates.map(t, {{{body}}})"


GROUPED = _grouped()


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
# KubeRay runs at least minReplicas, and up to maxReplicas when autoscaling
_WORKER_REPLICAS = (
    f"[{_default('g', 'replicas', '0')}, {_default('g', 'minReplicas', '0')}, "
    f"(({_AUTOSCALING} && has(g.maxReplicas)) ? g.maxReplicas : 0)].max()"
)
_AUTOSCALER = f"{_RAY}.autoscalerOptions"
# the autoscaler container KubeRay injects into the head (common/pod.go
# BuildAutoscalerContainer): autoscalerOptions' image and resources, else 500m CPU and 512Mi
_AUTOSCALER_DEFAULT = {"cpus": "0.5", "memoryGB": repr(512 / 1024), "gpus": "0.0"}


def _autoscaler(name: str) -> str:
    given = f"(has({_AUTOSCALER}) && has({_AUTOSCALER}.resources))"
    own = container_amount(_AUTOSCALER, name)
    return f"({_AUTOSCALING} ? ({given} ? {own} : {_AUTOSCALER_DEFAULT[name]}) : 0.0)"


_AUTOSCALER_IMAGE = (
    f"(({_AUTOSCALING} && has({_AUTOSCALER}) && has({_AUTOSCALER}.image)) ? "
    f"[{_AUTOSCALER}.image] : [])"
)
# KubeRay's own submitter Job when the RayJob writes none (emit.rayjob SUBMITTER_RESOURCES):
# CPUs as requested, memory up to its limit; it runs the head's image
_DEFAULT_SUBMITTER = (
    f"has({_RAY}) && !has(object.spec.submitterPodTemplate) && "
    "(!has(object.spec.submissionMode) || "
    "object.spec.submissionMode in ['K8sJobMode', 'SidecarMode'])"
)
RAYJOB = Kind(
    "RayJob",
    "ray.io",
    "v1",
    "rayjobs",
    f"(has({_RAY}) ? ["
    + _group(
        '"head"',
        '"Head"',
        "1",
        "1",
        f"{_RAY}.headGroupSpec.template.spec",
        extra={name: _autoscaler(name) for name in ("cpus", "memoryGB", "gpus")},
        images=_AUTOSCALER_IMAGE,
    )
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
    + f"] : []) + (({_DEFAULT_SUBMITTER}) ? ["
    + _group(
        '"KubeRay\'s default submitter"',
        '"Job"',
        "1",
        "1",
        f"{_RAY}.headGroupSpec.template.spec",
        implicit="true",
        amounts={"cpus": "0.5", "memoryGB": "1.0", "gpus": "0.0"},
    )
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

# every pod, whoever makes it: its own group of one
POD = Kind(
    "Pod",
    "",
    "v1",
    "pods",
    "[" + _group('"pod"', '""', "1", "1", "object.spec") + "]",
    (),
    (),
)

WORKLOADS = (JOBSET, RAYJOB, JOB)
KINDS = (*WORKLOADS, POD)
GROUPS = "variables.groups"


def _image_of(item: str, field: str) -> str:
    return f"(has({item}.{field}) ? {item}.{field} : '')"


def images(pod: str, check) -> str:
    """CEL: ``check(image)`` holds for every image ``pod`` runs: its containers, init
    containers (native sidecars among them), ephemeral containers (``kubectl debug``) and image
    volumes, and the group's injected containers when ``pod`` is a group's spec."""
    parts = [f"{pod}.containers.all(c, {check(_image_of('c', 'image'))})"]
    for field in ("initContainers", "ephemeralContainers"):
        parts.append(
            f"(!has({pod}.{field}) || {pod}.{field}.all(c, {check(_image_of('c', 'image'))}))"
        )
    parts.append(
        f"(!has({pod}.volumes) || {pod}.volumes.all(v, !has(v.image) || "
        f"{check(_image_of('v.image', 'reference'))}))"
    )
    return " && ".join(parts)
