"""Which project's policies bind a workload, and that it cannot step out of them: a workload of a
project with a quota keeps a queue (E340), and a workload without a project (nor a project's
namespace) is warned where project policies exist (W140): the examples and most single-team
repositories compile without one. A workload sent to another project's
namespace is held by that project's policies too (:func:`binding_policies`)."""

from __future__ import annotations

from ..diagnostics import Diagnostic, Location, Related, error, warning
from ..resolve import Resolved
from .quota import QUOTA, quota_of


def check_scope(
    resolved: Resolved, queue, project: str | None, namespace: str | None, policies
) -> list[Diagnostic]:
    """``policies``: every loaded policy, of every project."""
    projects = sorted({p.project for p in policies if p.project})
    return _dropped_queue(resolved, queue, project, policies) + _no_project(
        resolved, project, namespace, projects
    )


def binding_policies(policy_documents, project: str | None, namespace: str | None):
    """The policies that bind a workload of ``project`` going to ``namespace``: every global
    policy and the project's, and, in another project's namespace, that project's rules too."""
    from .policy import policies_for

    bound = policies_for(policy_documents, project)
    if namespace and namespace != project:
        bound += [p for p in policies_for(policy_documents, namespace) if p.project]
    return bound


def _dropped_queue(resolved: Resolved, queue, project, policies) -> list[Diagnostic]:
    policy = quota_of(policies, project) if project else None
    if policy is None or queue:
        return []
    return [
        error(
            "E340",
            f"project {project} has a quota, held by Kueue on its queue; a workload with no queue "
            "(queue: ~, --set spec.queue=~) is never counted against it: name a queue",
            resolved.location(("spec", "queue")),
            "spec.queue",
            [Related(policy.label, policy.document.positions.nearest(QUOTA, prefer_key=True))],
        )
    ]


def _no_project(resolved: Resolved, project, namespace, projects) -> list[Diagnostic]:
    if project or namespace in projects or not projects:
        return []
    return [
        warning(
            "W140",
            f"the workload names no project, while policies bind projects ({', '.join(projects)}):"
            " only the global policies apply here (kubectl sends it to its current namespace, "
            "whose admission policies judge it there); set project: (or --project, or project "
            "in .compile.yaml) for the project's policies",
            _project_location(resolved),
            "project",
        )
    ]


def _project_location(resolved: Resolved) -> Location:
    data = resolved.data if isinstance(resolved.data, dict) else {}
    if isinstance(data.get("project"), str):
        return resolved.location(("project",))
    return resolved.location(("name",), key=True)  # in the workload: the name it gave itself
