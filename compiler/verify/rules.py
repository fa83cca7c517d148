"""Which live objects were compiled under other policies than today's, grouped by policy change.

Every object records the digest of the policies and the base workload it was compiled under
(``manifest-compiler/policy-digest``, :mod:`compiler.provenance`). Today's policies give, for
each project, one digest per base workload it may use (or none); an object whose recorded digest
is none of them runs under old rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..emit.workload import PROJECT_LABEL, RULES_DIGEST_ANNOTATION, VERSION_ANNOTATION
from ..layers import base_layer
from ..pipeline import Catalog
from ..provenance import rules_digest
from ..validate.policy import policies_for
from .objects import NamedObject

UNRECORDED = ""  # an object compiled before policy digests were recorded


def todays_digests(catalog: Catalog, project: str | None) -> frozenset:
    """Every digest a workload of ``project`` compiled now may record."""
    policies = [policy.document.data for policy in policies_for(catalog.policies, project)]
    bases = [
        base_layer(template).data
        for template in catalog.templates
        if isinstance(template.data, dict) and template.data.get("project") in (None, project)
    ]
    return frozenset(rules_digest(policies, base) for base in [None, *bases])


@dataclass(frozen=True)
class LiveObject(NamedObject):
    project: str | None
    digest: str
    compiler_version: str

    def as_dict(self) -> dict:
        return {
            **self.identity(),
            "compilerVersion": self.compiler_version or None,
        }


def live_object(obj: dict) -> LiveObject:
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    return LiveObject(
        str(obj.get("kind", "")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
        labels.get(PROJECT_LABEL),
        str(annotations.get(RULES_DIGEST_ANNOTATION, UNRECORDED)),
        str(annotations.get(VERSION_ANNOTATION, "")),
    )


@dataclass(frozen=True)
class StaleGroup:
    """Objects of one project compiled under one set of rules that are not today's."""

    project: str | None
    digest: str  # what they record (UNRECORDED: nothing)
    today: tuple  # the digests today's policies give the project
    objects: tuple  # LiveObject

    def as_dict(self) -> dict:
        return {
            "project": self.project,
            "policyDigest": self.digest or None,
            "todaysDigests": list(self.today),
            "objects": [o.as_dict() for o in self.objects],
        }


def stale_groups(objects: list[dict], catalog: Catalog) -> tuple[list[StaleGroup], int]:
    """(the groups of objects compiled under other rules than today's, how many objects were
    looked at), in a fixed order: by project, then digest, objects by namespace, name, kind."""
    today: dict = {}
    groups: dict = {}
    seen = 0
    for obj in objects:
        live = live_object(obj)
        seen += 1
        if live.project not in today:
            today[live.project] = todays_digests(catalog, live.project)
        if live.digest in today[live.project]:
            continue
        groups.setdefault((live.project, live.digest), []).append(live)
    ordered = []
    for project, digest in sorted(groups, key=lambda key: (key[0] or "", key[1])):
        members = sorted(groups[(project, digest)], key=lambda o: (o.namespace, o.name, o.kind))
        ordered.append(StaleGroup(project, digest, tuple(sorted(today[project])), tuple(members)))
    return ordered, seen
