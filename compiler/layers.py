"""Which layers a workload is built from (SPEC 3.1): built-in defaults (added by resolve), global
policy defaults, project policy defaults, the base workload, the workload, and ``--set``.

A base name resolves to a template of the workload's project first, then to a global one; only
one level: a base may not itself name a base.
"""

from __future__ import annotations

from .diagnostics import Diagnostic, Related, close_matches, error
from .documents import is_template
from .resolve import Layer
from .validate.policy import policies_for
from .validate.quota import QUOTA, quota_of

POLICY_DEFAULTS = ("spec", "defaults")
NOT_INHERITED = ("usage", "name", "baseWorkload")


def workload_project(document, options) -> str | None:
    data = document.data if isinstance(document.data, dict) else {}
    own = (
        data.get("project")
        if isinstance(data.get("project"), str) and data.get("project")
        else None
    )
    return options.project or own or getattr(options, "default_project", None)


def layers_for(document, catalog, options) -> tuple[list[Layer], list[Diagnostic]]:
    """The layers of ``document``, lowest first (without the built-in layer)."""
    data = document.data if isinstance(document.data, dict) else {}
    project = workload_project(document, options)
    policies = policies_for(catalog.policies, project)
    layers = [policy_layer(p) for p in policies if p.defaults and p.project is None]
    layers += quota_layers(policies, project)
    layers += [policy_layer(p) for p in policies if p.defaults and p.project is not None]
    problems: list[Diagnostic] = []
    if "baseWorkload" in data:
        base, problems = find_base(document, catalog.templates, project)
        if base is not None:
            layers.append(base_layer(base))
    layers.append(Layer("workload", "the workload", document.data, document.positions))
    layers.extend(options.sets)
    return layers, problems


def quota_layers(policies, project) -> list[Layer]:
    """A project with a quota queues its workloads on its LocalQueue, named after the project
    (SPEC 2.5): a default below the project's own policy defaults, which may name another."""
    policy = quota_of(policies, project)
    if policy is None:
        return []
    data = {"spec": {"queue": project}}
    return [
        Layer("project-policy", f"{policy.label} (quota)", data, policy.document.positions, QUOTA)
    ]


def policy_layer(policy) -> Layer:
    role = "project-policy" if policy.project else "global-policy"
    return Layer(role, policy.label, policy.defaults, policy.document.positions, POLICY_DEFAULTS)


def base_layer(base) -> Layer:
    data = {key: value for key, value in base.data.items() if key not in NOT_INHERITED}
    return Layer("base", base_label(base), data, base.positions)


def base_label(base) -> str:
    return f"{'template' if is_template(base) else 'base workload'} {base.data.get('name')}"


def find_base(document, candidates, project) -> tuple[object | None, list[Diagnostic]]:
    name = document.data["baseWorkload"]
    where = document.positions.nearest(("baseWorkload",))
    if is_template(document):
        return None, []  # the catalog reports E202 for the template itself
    if not isinstance(name, str) or not name:
        return None, [
            error(
                "E201",
                "baseWorkload must be the name of a template or named manifest",
                where,
                "baseWorkload",
            )
        ]
    visible = [c for c in candidates if c is not document and _scope(c) in (project, None)]
    found = [c for c in visible if c.data.get("name") == name]
    found.sort(
        key=lambda c: (_scope(c) is None, not is_template(c))
    )  # project first, templates first
    if not found:
        return None, [
            error("E201", _unknown_message(name, visible, project), where, "baseWorkload")
        ]
    base = found[0]
    if "baseWorkload" in base.data and not is_template(base):
        message = (
            f"{base_label(base)} itself names baseWorkload {base.data['baseWorkload']!r}; "
            "only one level of inheritance is allowed"
        )
        related = [
            Related("its baseWorkload", base.positions.nearest(("baseWorkload",), prefer_key=True))
        ]
        return None, [error("E202", message, where, "baseWorkload", related)]
    return base, []


def _scope(document) -> str | None:
    project = document.data.get("project")
    return project if isinstance(project, str) and project else None


def _unknown_message(name, visible, project) -> str:
    names = sorted({str(c.data.get("name")) for c in visible})
    scope = f"project {project} or global" if project else "global"
    message = (
        f"unknown baseWorkload {name!r}: no template ({scope}) or named manifest has this name"
    )
    close = close_matches(name, names, n=1, cutoff=0.5)
    if close:
        return message + f"; did you mean {close[0]!r}?"
    if names:
        return message + f"; known: {', '.join(names[:12])}"
    return message + "; pass templates with -t/--templates"
