"""Reading what is live for ``compile verify``: an object's live counterpart, the jobs of ours.

Reads only, through :class:`compiler.cluster.client.Kube`'s ``get`` and ``pages``.
"""

from __future__ import annotations

from collections.abc import Iterator

from .client import ApiError, Kube
from .jobs import managed_jobs
from .kinds import resource_for


def live_counterpart(kube: Kube, obj: dict) -> dict | None:
    """The live object of the compiled ``obj`` (same kind, namespace and name), with its
    managedFields; None when there is none. A resource that is not served raises (exit 3)."""
    resource = resource_for(obj)
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace") or kube.namespace
    try:
        live = kube.get(resource.path(namespace, metadata.get("name")))
    except ApiError as exc:
        if exc.not_found and not exc.group_missing:
            return None
        raise
    live.setdefault("kind", resource.kind)
    live.setdefault("apiVersion", resource.api_version)
    return live


def jobs_of_ours(kube: Kube, namespace: str | None) -> Iterator[dict]:
    """Every JobSet, RayJob and Job this tool made in ``namespace`` (None: every namespace)."""
    for found in managed_jobs(kube, namespace):  # type: ignore[arg-type]  # None: all namespaces
        yield found.obj
