"""``plan``: compiled objects → the pods the cluster's controllers would create, as LocalPods."""

from __future__ import annotations

from collections.abc import Mapping

from .pods import Plan

#: Secrets and ConfigMaps by name (one folder: a name is either), data as text
Sources = Mapping[str, Mapping[str, str]]


def plan(objects: list[dict], secrets: Sources, node_name: str = "local") -> Plan:
    """The pods of every workload in `objects` (JobSet, batch/v1 Job, RayJob; Services give
    names, other kinds are ignored), each container's environment resolved with `secrets`.
    Scaling (``--scale``, ``--set …count=``) happens before compiling: the plan runs what the
    objects say. Anything it cannot plan is a diagnostic, and that workload has no pods."""
    raise NotImplementedError
