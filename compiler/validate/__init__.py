"""Stage 3: structure, manifest rules, policies and target limits, all reported at once."""

from __future__ import annotations

from ..diagnostics import has_errors
from ..emit import Workload
from ..resolve import Resolved, format_path
from .boundary import check_boundary, check_names
from .overrides import check_overrides, covered_by
from .policy import check_policies, policies_for
from .scope import binding_policies, check_scope
from .semantics import check_semantics
from .structure import intended_paths, validate_manifest
from .targets import check_targets


def validate_workload(
    resolved: Resolved, catalog, name: str, name_path: tuple, project, namespace, document, options
):
    """Returns (manifest or None, typed types, diagnostics)."""
    manifest, types, structural = validate_manifest(resolved)
    overrides = check_overrides(resolved)
    structural = [d for d in structural if not covered_by(d, overrides)] + overrides
    policy = (
        check_policies(resolved, binding_policies(catalog.policies, project, namespace), types)
        if catalog is not None
        else []
    )
    covered = consequences_of(structural, resolved)
    policy = [d for d in policy if not covered(d)]  # one report per broken field
    pinning = catalog is not None and _names_workers(catalog, project)
    semantic = [
        d
        for d in check_semantics(resolved, engine_selects=pinning)
        + check_boundary(resolved, _gpu_product_label(catalog, project))
        + check_names(project, namespace, resolved)
        if not covered(d)
    ]
    if manifest is None or types is None or has_errors(structural) or has_errors(semantic):
        return None, None, structural + semantic + policy
    probe = Workload(
        manifest=manifest,
        types=types,
        name=name,
        namespace=namespace,
        project=project,
        source=document.file,
        digest="",
    )
    targets = check_targets(probe, resolved, name_path)
    queue = check_queue(resolved, catalog, manifest, types, project, namespace)
    if catalog is not None:
        queue += _engine_problems(resolved, catalog, manifest, project)
    return (
        manifest,
        types,
        structural
        + semantic
        + targets
        + policy
        + queue
        + rdma_problems(resolved, catalog, types, project),
    )


def _names_workers(catalog, project) -> bool:
    from .clusters import worker_clusters

    return bool(worker_clusters(policies_for(catalog.policies, project)))


def consequences_of(structural: list, resolved: Resolved):
    """Whether a later diagnostic only follows from a structural error already reported: it is
    about a broken field or something inside it (a policy default 'removed' by an ``env:`` list),
    about the field a misspelt key means, or about the mapping holding the misspelling (memory
    'not set' beside ``memroy:``)."""
    broken = {d.path for d in structural if d.is_error}
    holders: set[str] = set()
    if any(d.code == "E101" for d in structural):
        for holder, meant in intended_paths(resolved):
            broken.add(format_path(resolved.logical(meant)))
            holders.add(format_path(resolved.logical(holder)))

    def covered(diagnostic) -> bool:
        path = diagnostic.path
        return path in holders or any(
            path == b or path.startswith((b + ".", b + "[")) for b in broken if b
        )

    return covered


def rdma_problems(resolved: Resolved, catalog, types, project) -> list:
    """E323: RDMA networks of one pod whose variables disagree."""
    if catalog is None:
        return []
    from .runs import check_rdma, rdma_networks

    rdma = rdma_networks(policies_for(catalog.policies, project))[0]
    return check_rdma(resolved, types, rdma) if rdma else []


def _engine_problems(resolved: Resolved, catalog, manifest, project) -> list:
    from .clusters import check_engine

    return check_engine(resolved, manifest, policies_for(catalog.policies, project))


def check_queue(resolved: Resolved, catalog, manifest, types, project, namespace=None) -> list:
    """E320, E321, E322, W120, W121, W123: a workload its queue does not know or can never admit;
    E340, W140: a workload that steps out of its project's policies."""
    if catalog is None:
        return []
    from .policy import _types_location, loaded_policy, tpu_totals, workload_totals
    from .quota import (
        check_admission,
        check_covered,
        check_known,
        check_namespace,
        products_used,
    )

    policies = [p for p in (loaded_policy(d) for d in catalog.policies) if p is not None]
    known = check_known(
        manifest.spec.queue,
        manifest.spec.priority,
        policies,
        resolved.location(("spec", "queue")),
        resolved.location(("spec", "priority")),
    )
    from .runs import rdma_networks

    rdma = rdma_networks(policies_for(catalog.policies, project))[0]
    covered = check_covered(
        requested_resources(manifest.spec.operator, types, rdma),
        tpu_totals(manifest.spec.operator, types),
        manifest.spec.queue,
        policies,
        _types_location(resolved),
    )
    known += check_scope(resolved, manifest.spec.queue, project, namespace, policies)
    if not project:
        return known + covered
    elsewhere = check_namespace(
        manifest.spec.queue, project, namespace, policies, resolved.location(("spec", "queue"))
    )
    admission = check_admission(
        workload_totals(manifest.spec.operator, types, _runs_submitter(manifest.spec)),
        products_used(types),
        manifest.spec.queue,
        project,
        policies,
        _types_location(resolved),
    )
    return known + covered + elsewhere + admission


def requested_resources(operator, types, rdma=None) -> dict[str, set]:
    """Resource name -> the labels of the pod groups that request it (what Kueue must cover)."""
    from ..emit.pod import container_resources
    from .policy import pod_resources

    out: dict[str, set] = {}
    for name, pods, resources in pod_resources(operator, types):
        if pods:
            for resource in container_resources(resources, rdma)["requests"]:
                out.setdefault(resource, set()).add(name)
    return out


__all__ = [
    "check_policies",
    "check_semantics",
    "check_targets",
    "validate_manifest",
    "validate_workload",
]


def _runs_submitter(spec) -> bool:
    """A RayJob always runs a submitter pod, KubeRay's default one when none is written."""
    return spec.operator in ("kuberay", "ray")


def _gpu_product_label(catalog, project) -> str | None:
    """The cluster's GPU product node label, as the policies state it (SPEC 2.6)."""
    if catalog is None:
        return None
    from .runs import gpu_product_label

    return gpu_product_label(policies_for(catalog.policies, project))[0]
