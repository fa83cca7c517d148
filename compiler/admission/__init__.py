"""``compile admission``: the policies as ValidatingAdmissionPolicy objects the API server holds.

Pure: loaded policies in, objects (and the rules the cluster cannot hold) out. One
ValidatingAdmissionPolicy and one binding per policy and kind, so that each policy's CEL is
type-checked against one schema: the workload kinds compile emits (JobSet, RayJob, batch Job)
hold every rule, and every Pod holds the rules on what one pod runs, whoever makes it (issue 20).
Per project, a door refuses the other kinds that run pods (and bare Pods) unless a policy allows
them. A project policy binds to the namespace named after its project; a global policy binds
every namespace but the system ones, or where ``global_selector`` (namespace labels) says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, error
from ..emit.naming import dns1035
from ..validate.clusters import worker_clusters
from ..validate.policy_load import LoadedPolicy
from .kinds import GROUPED, KINDS, Kind, lit
from .translate import PRIORITY_LABEL, QUEUE_LABEL, Check, Left, translate

API_VERSION = "admissionregistration.k8s.io/v1"
NAME_PREFIX = "manifest-compiler"
MANAGED_BY = {"app.kubernetes.io/managed-by": "manifest-compiler"}
POLICY_ANNOTATION = "manifest-compiler/policy"
SOURCE_ANNOTATION = "manifest-compiler/source"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# namespaces global policies leave alone (the cluster's own and its controllers'); their service
# accounts are the controllers whose requests count as made for an admitted workload
SYSTEM_NAMESPACES = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "jobset-system",
    "kueue-system",
    "kuberay-system",
    "ray-system",
)
# kube-controller-manager's own identity (without --use-service-account-credentials), cluster
# administrators and kubelets (mirror pods): trusted like the controllers
TRUSTED_USERS = ("system:kube-controller-manager",)
TRUSTED_GROUPS = ("system:masters", "system:nodes")
OWNED_JOB = (
    "(has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(o, "
    "has(o.controller) && o.controller && "
    "((o.kind == 'JobSet' && o.apiVersion.startsWith('jobset.x-k8s.io/')) || "
    "(o.kind == 'RayJob' && o.apiVersion.startsWith('ray.io/')))))"
)
# a pod's spec changes only through a few fields (images, deadline, tolerations), its ephemeral
# containers and in-place resizes: other updates (labels, finalizers, status) are not judged
POD_CHANGE = (
    "request.operation == 'CREATE' || request.subResource in ['ephemeralcontainers', 'resize'] "
    "|| object.spec != oldObject.spec"
)
# the kinds compile never emits that run pods: (API group, resource, kind)
DOOR_KINDS = (
    ("", "pods", "Pod"),
    ("", "replicationcontrollers", "ReplicationController"),
    ("apps", "deployments", "Deployment"),
    ("apps", "statefulsets", "StatefulSet"),
    ("apps", "replicasets", "ReplicaSet"),
    ("apps", "daemonsets", "DaemonSet"),
    ("batch", "cronjobs", "CronJob"),
    ("ray.io", "rayclusters", "RayCluster"),
    ("ray.io", "rayservices", "RayService"),
)


def trusted(system_namespaces: tuple[str, ...]) -> str:
    """CEL: the request comes from a controller (a service account of a system namespace, the
    controller manager) or an administrator: what it makes, it makes for an admitted object."""
    groups = TRUSTED_GROUPS + tuple(f"system:serviceaccounts:{ns}" for ns in system_namespaces)
    return (
        f"(request.userInfo.username in {_list(TRUSTED_USERS)} || "
        f"request.userInfo.groups.exists(x, x in {_list(groups)}))"
    )


def _list(values) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


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
            "# limit of these policies that the objects show, and on every Pod the rules on what",
            "# one pod runs; in project namespaces, other kinds that run pods are refused:",
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
    system = _system_namespaces(policies)
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
            result.objects.append(_policy_object(name, policy, kind, checks, system))
            result.objects.append(_binding(name, policy, audit, global_selector, system))
    for project in sorted({p.project for p in policies if p.project}):
        result.objects += _door(project, policies, audit, system)
    return result


def _admission_spec(policy: LoadedPolicy) -> dict:
    data = policy.document.data
    spec = data.get("spec") if isinstance(data, dict) else None
    admission = spec.get("admission") if isinstance(spec, dict) else None
    return admission if isinstance(admission, dict) else {}


def _system_namespaces(policies: list[LoadedPolicy]) -> tuple[str, ...]:
    extra = {
        str(ns)
        for policy in policies
        if policy.project is None and policy.cluster is not None
        for ns in (policy.cluster.systemNamespaces or ())
    }
    return SYSTEM_NAMESPACES + tuple(sorted(extra - set(SYSTEM_NAMESPACES)))


def _door(
    project: str, policies: list[LoadedPolicy], audit: bool, system: tuple[str, ...]
) -> list[dict]:
    """The project's door: kinds compile never emits that run pods (and bare Pods) are refused
    unless a policy of the project, or a global one, allows them; what a controller makes for an
    admitted workload comes in. A pod may name no PriorityClass but those the policies allow."""
    mine = [p for p in policies if p.project in (None, project)]
    allowed = {str(k) for p in mine for k in _admission_spec(p).get("allowKinds") or ()}
    classes = sorted(
        {str(c) for p in mine for c in _admission_spec(p).get("priorityClasses") or ()}
    )
    owner = next(p for p in policies if p.project == project)
    stem = f"{NAME_PREFIX}.door.{dns1035(project) or 'project'}"
    objects = []
    refused = [(group, resource) for group, resource, kind in DOOR_KINDS if kind not in allowed]
    if refused:
        spec = _kinds_door(project, refused, system)
        objects += _door_objects(f"{stem}.kinds", owner, spec, project, audit)
    spec = _priority_door(project, classes)
    objects += _door_objects(f"{stem}.pods", owner, spec, project, audit)
    return objects


def _kinds_door(project: str, refused: list[tuple[str, str]], system: tuple[str, ...]) -> dict:
    rules = []
    for group in dict.fromkeys(group for group, _ in refused):
        rules.append(
            {
                "apiGroups": [group],
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": [r for g, r in refused if g == group],
            }
        )
    message = (
        f"in project {project} only JobSet, RayJob and batch Job objects are admitted, and "
        "what their controllers make (allow another kind with spec.admission.allowKinds)"
    )
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": rules},
        "matchConditions": [
            {"name": "not-made-by-a-controller", "expression": f"!{trusted(system)}"},
            # a bare Pod is refused when made; its updates (kubectl debug) meet the pod rules
            {
                "name": "a-pod-when-made",
                "expression": "request.resource.resource != 'pods' || "
                "request.operation == 'CREATE'",
            },
        ],
        "validations": [
            {
                "expression": "false",
                "message": message,
                "messageExpression": "'a ' + request.kind.kind + ' ' + "
                + lit("is not admitted: " + message),
                "reason": "Forbidden",
            }
        ],
    }


def _priority_door(project: str, classes: list[str]) -> dict:
    priority = (
        "!has(object.spec.priorityClassName) || object.spec.priorityClassName == '' || "
        f"object.spec.priorityClassName in {_list(classes)}"
    )
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": [_rule("", "v1", "pods", pod=True)]},
        "matchConditions": [{"name": "the-pod-spec-changes", "expression": POD_CHANGE}],
        "validations": [
            {
                "expression": priority,
                "message": (
                    f"a pod of project {project} may name no PriorityClass but "
                    f"{', '.join(classes) or 'none'} (spec.admission.priorityClasses)"
                ),
                "reason": "Forbidden",
            }
        ],
    }


def _door_objects(name: str, owner: LoadedPolicy, spec: dict, project: str, audit: bool):
    binding = {
        "policyName": name,
        "validationActions": ["Audit", "Warn"] if audit else ["Deny"],
        "matchResources": _project_namespace(project),
    }
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": _metadata(name, owner),
            "spec": spec,
        },
        {
            "apiVersion": API_VERSION,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": _metadata(name, owner),
            "spec": binding,
        },
    ]


def _rule(group: str, version: str, resource: str, pod: bool = False) -> dict:
    resources = (
        [resource, f"{resource}/ephemeralcontainers", f"{resource}/resize"] if pod else [resource]
    )
    return {
        "apiGroups": [group],
        "apiVersions": [version],
        "operations": ["CREATE", "UPDATE"],
        "resources": resources,
    }


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
    context: dict = {
        "defaulted_labels": frozenset(defaulted),
        # engineName pins a workload through the queue PROJECT-WORKER (SPEC 2.9)
        "workers": tuple(cluster.name for _, _, cluster in worker_clusters(policies)),
    }
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


def _policy_object(
    name: str, policy: LoadedPolicy, kind: Kind, checks: list[Check], system: tuple[str, ...]
) -> dict:
    spec: dict = {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [_rule(kind.group, kind.version, kind.resource, kind.name == "Pod")]
        },
    }
    validations = [_validation(check, kind) for check in checks]
    if kind.name == "Job":
        # a Job its JobSet's or RayJob's controller makes was judged through its owner; one
        # anyone else makes or changes, owner or not, is judged as any Job, and may not change
        # the spec of a Job an owner controls (the owner's totals would not see it)
        spec["matchConditions"] = [
            {
                "name": "not-made-by-a-controller-for-its-owner",
                "expression": f"!({OWNED_JOB} && {trusted(system)})",
            }
        ]
        validations.append(
            {
                "expression": f"request.operation != 'UPDATE' || !{OWNED_JOB} || "
                "object.spec == oldObject.spec",
                "message": "the spec of a Job that a JobSet or a RayJob controls changes only "
                f"through its owner (policy {policy.name})",
                "reason": "Forbidden",
            }
        )
    if kind.name == "Pod":
        spec["matchConditions"] = [{"name": "the-pod-spec-changes", "expression": POD_CHANGE}]
    spec["variables"] = [
        {"name": "templates", "expression": kind.templates},
        {"name": "groups", "expression": GROUPED},
    ]
    spec["validations"] = validations
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


def _project_namespace(project: str) -> dict:
    return {
        "namespaceSelector": {
            "matchExpressions": [
                {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": [project]}
            ]
        }
    }


def _binding(
    name: str,
    policy: LoadedPolicy,
    audit: bool,
    global_selector: dict | None,
    system: tuple[str, ...],
) -> dict:
    spec: dict = {
        "policyName": name,
        "validationActions": ["Audit", "Warn"] if audit else ["Deny"],
    }
    if policy.project:
        spec["matchResources"] = _project_namespace(policy.project)
    elif global_selector:
        spec["matchResources"] = {"namespaceSelector": {"matchLabels": dict(global_selector)}}
    else:
        spec["matchResources"] = {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": list(system)}
                ]
            }
        }
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": _metadata(name, policy),
        "spec": spec,
    }
