"""``compile admission``: the policies as ValidatingAdmissionPolicy objects the API server holds.

Pure: loaded policies in, objects (and the rules the cluster cannot hold) out. One
ValidatingAdmissionPolicy and one binding per policy and job kind (JobSet, RayJob, batch Job), so
that each policy's CEL is type-checked against one schema. A project policy binds to the
namespace named after its project; a global policy binds everywhere, or where
``global_selector`` (namespace labels) says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, error
from ..emit.naming import dns1035
from ..validate.policy_load import LoadedPolicy
from .kinds import KINDS, Kind
from .translate import PRIORITY_LABEL, QUEUE_LABEL, Check, Left, translate

API_VERSION = "admissionregistration.k8s.io/v1"
NAME_PREFIX = "manifest-compiler"
MANAGED_BY = {"app.kubernetes.io/managed-by": "manifest-compiler"}
POLICY_ANNOTATION = "manifest-compiler/policy"
SOURCE_ANNOTATION = "manifest-compiler/source"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Jobs that a JobSet or a RayJob controls were checked as part of their owner
OWNED_JOB = (
    "!has(object.metadata.ownerReferences) || !object.metadata.ownerReferences.exists(o, "
    "has(o.controller) && o.controller && "
    "((o.kind == 'JobSet' && o.apiVersion.startsWith('jobset.x-k8s.io/')) || "
    "(o.kind == 'RayJob' && o.apiVersion.startsWith('ray.io/'))))"
)


@dataclass
class Admission:
    objects: list[dict] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # "name (scope, file)"

    def header(self) -> str:
        """The comment at the top of the output: what the cluster holds and what it does not."""
        lines = [
            "# Admission policies compiled by manifest-compiler (compile admission).",
            "# The API server holds, on JobSet, RayJob and batch/v1 Job objects, every rule and",
            "# limit of these policies that the objects show:",
        ]
        lines += [f"#   {p}" for p in self.policies]
        if self.left:
            lines.append("# Not held by the cluster (only `compile` holds these):")
            lines += [f"#   {left.describe()}" for left in self.left]
        else:
            lines.append("# Every rule is held by the cluster too.")
        return "\n".join(lines) + "\n"


def admission_objects(
    policies: list[LoadedPolicy], audit: bool = False, global_selector: dict | None = None
) -> Admission:
    result = Admission()
    context = _context(policies)
    names: dict[str, LoadedPolicy] = {}
    for policy in policies:
        translation = translate(policy, context)
        result.left += translation.left
        result.diagnostics += translation.diagnostics
        scope = f"project {policy.project}" if policy.project else "global"
        result.policies.append(f"policy {policy.name} ({scope}, {policy.document.file})")
        stem = f"{NAME_PREFIX}.{dns1035(policy.name) or 'policy'}"
        clash = names.get(stem)
        if clash is not None:
            result.diagnostics.append(_clash(policy, clash, stem))
            continue
        names[stem] = policy
        for kind in KINDS:
            checks = [c for c in translation.checks if kind.name in c.kinds]
            if not checks:
                continue
            name = f"{stem}.{kind.name.lower()}"
            result.objects.append(_policy_object(name, policy, kind, checks))
            result.objects.append(_binding(name, policy, audit, global_selector))
    return result


def _context(policies: list[LoadedPolicy]) -> dict:
    defaulted: set[str] = set()
    product_label = None
    for policy in policies:
        spec = (policy.defaults or {}).get("spec")
        spec = spec if isinstance(spec, dict) else {}
        labels = spec.get("labels")
        if isinstance(labels, dict):
            defaulted.update(str(key) for key in labels)
        if spec.get("queue") is not None:
            defaulted.add(QUEUE_LABEL)
        if spec.get("priority") is not None:
            defaulted.add(PRIORITY_LABEL)
        data = policy.document.data
        policy_spec = data.get("spec") if isinstance(data, dict) else None
        if isinstance(policy_spec, dict):
            if policy_spec.get("quota") is not None:
                defaulted.add(QUEUE_LABEL)  # the project's LocalQueue is its default queue
            cluster = policy_spec.get("cluster")
            if policy.project is None and isinstance(cluster, dict):
                label = cluster.get("gpuProductLabel")
                product_label = label if isinstance(label, str) else product_label
    context: dict = {"defaulted_labels": frozenset(defaulted)}
    if product_label:
        context["gpu_product_label"] = product_label
    return context


def _clash(policy: LoadedPolicy, other: LoadedPolicy, stem: str) -> Diagnostic:
    where = policy.document.positions.nearest(("metadata", "name"))
    return error(
        "E520",
        f"policies {other.name} and {policy.name} give one admission policy name {stem}; "
        "rename one of them",
        where,
        "metadata.name",
    )


def _metadata(name: str, policy: LoadedPolicy) -> dict:
    return {
        "name": name,
        "labels": dict(MANAGED_BY),
        "annotations": {
            POLICY_ANNOTATION: policy.name,
            SOURCE_ANNOTATION: str(policy.document.file),
        },
    }


def _policy_object(name: str, policy: LoadedPolicy, kind: Kind, checks: list[Check]) -> dict:
    spec: dict = {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [kind.group],
                    "apiVersions": [kind.version],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": [kind.resource],
                }
            ]
        },
    }
    if kind.name == "Job":
        spec["matchConditions"] = [
            {"name": "not-controlled-by-a-jobset-or-rayjob", "expression": OWNED_JOB}
        ]
    spec["variables"] = [{"name": "groups", "expression": kind.groups}]
    spec["validations"] = [_validation(check, kind) for check in checks]
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": _metadata(name, policy),
        "spec": spec,
    }


def _validation(check: Check, kind: Kind) -> dict:
    validation = {"expression": check.expression(kind), "message": check.message}
    if check.detail is not None:
        prefix = check.message
        validation["messageExpression"] = f"{_cel_string(prefix + ': ')} + {check.detail(kind)}"
    validation["reason"] = "Invalid"
    return validation


def _cel_string(text: str) -> str:
    from .kinds import lit

    return lit(text)


def _binding(name: str, policy: LoadedPolicy, audit: bool, global_selector: dict | None) -> dict:
    spec: dict = {
        "policyName": name,
        "validationActions": ["Audit", "Warn"] if audit else ["Deny"],
    }
    if policy.project:
        spec["matchResources"] = {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": [policy.project]}
                ]
            }
        }
    elif global_selector:
        spec["matchResources"] = {"namespaceSelector": {"matchLabels": dict(global_selector)}}
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": _metadata(name, policy),
        "spec": spec,
    }
