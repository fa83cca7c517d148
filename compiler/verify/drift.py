"""Drift: a live object compared with what its manifest compiles to now, field by field.

Pure: the live object (with its ``managedFields``) and the compiled one are plain data. Two ways a
field drifts:

- a field the compiled object sets whose live value differs or is gone: someone else changed it
  (the managers that own it now are named: ``kubectl-edit``, ``kubectl-patch``, …), or the
  manifest, its template or its policies changed since it was applied (then we still own it);
- a field this product's field manager owns on the cluster that today's output no longer sets.

Fields that controllers own are not drift: Kueue suspends and resumes jobs and injects its
flavors' node selectors and tolerations; status belongs to the controllers; the submission record
(who, commit, image) is not part of the compiled output. A difference at such a path made by a
person's tool (a manager whose name starts with ``kubectl``) is still drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..provenance import normalised
from .fields import Owner, owners, render
from .objects import NamedObject

FIELD_MANAGER = "manifest-compiler"
PERSON_TOOL_PREFIX = "kubectl"

CHANGED = "changed"  # a value differs
MISSING = "missing"  # the compiled object sets it, the live one does not have it
NOT_COMPILED = "not-compiled"  # we own it on the cluster, today's output does not set it


@dataclass(frozen=True)
class Difference:
    path: str
    kind: str  # CHANGED, MISSING, NOT_COMPILED
    compiled: object = None
    live: object = None
    managers: tuple = ()  # who owns the live field now

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "kind": self.kind,
            "compiled": self.compiled,
            "live": self.live,
            "managers": list(self.managers),
        }


@dataclass(frozen=True)
class ObjectDrift(NamedObject):
    found: bool
    differences: tuple = field(default_factory=tuple)

    @property
    def drifted(self) -> bool:
        return not self.found or bool(self.differences)

    def as_dict(self) -> dict:
        return {
            **self.identity(),
            "found": self.found,
            "drift": self.drifted,
            "differences": [d.as_dict() for d in self.differences],
        }


def controller_owned(path: tuple) -> bool:
    """Paths that controllers write into objects of ours (see the module's docstring)."""
    names = [value for kind, value in path if kind == "f"]
    if names[:1] == ["status"]:
        return True
    if names and names[-1] == "suspend":
        return True  # Kueue (and JobSet for its child Jobs) suspend and resume
    return "nodeSelector" in names[1:] or "tolerations" in names[1:]  # Kueue's flavors


def compare(
    compiled: dict,
    live: dict | None,
    ignored_annotations: tuple = (),
    manager: str = FIELD_MANAGER,
) -> ObjectDrift:
    """How ``live`` differs from ``compiled``, judged by its managedFields (see the module)."""
    metadata = compiled.get("metadata") or {}
    kind = str(compiled.get("kind", ""))
    namespace = str(metadata.get("namespace") or "")
    name = str(metadata.get("name", ""))
    if live is None:
        return ObjectDrift(kind, namespace, name, False)
    every_owner = owners(live)
    keys: dict = {}
    for owner in every_owner:
        keys.update(owner.keys)
    compiled_leaves = dict(_leaves(compiled, live, keys))
    differences = []
    for path, value in compiled_leaves.items():
        found, live_value = lookup(live, path)
        if found and _same(value, live_value):
            continue
        if not found and _empty(value):
            continue
        managers = _owners_of(path, every_owner)
        if controller_owned(path) and not _person_among(managers):
            continue
        kind_ = CHANGED if found else MISSING
        differences.append(Difference(render(path), kind_, value, live_value, managers))
    reported: set = set()
    for owner in every_owner:
        if owner.manager != manager or owner.operation != "Apply":
            continue
        for path in sorted(owner.leaves, key=render):
            if _covered(path, compiled_leaves) or controller_owned(path):
                continue
            if _metadata_ignored(path, ignored_annotations):
                continue
            path = _uncompiled_root(path, compiled_leaves)  # a whole list item, once
            if path in reported:
                continue
            reported.add(path)
            _, live_value = lookup(live, path)
            differences.append(Difference(render(path), NOT_COMPILED, None, live_value, (manager,)))
    return ObjectDrift(kind, namespace, name, True, tuple(differences))


def _metadata_ignored(path: tuple, ignored_annotations: tuple) -> bool:
    names = [value for kind, value in path if kind == "f"]
    if names[:2] == ["metadata", "ownerReferences"]:
        return True  # submit makes the job the owner of its companions
    return (
        names[:2] == ["metadata", "annotations"]
        and len(names) > 2
        and names[2] in ignored_annotations
    )


# ---------------------------------------------------------------------------------------------
# walking objects by fieldsV1 paths


def _leaves(value, live, keys: dict, path: tuple = ()):
    """(path, value) of every field of ``value`` owned whole; list items addressed as the live
    object's managedFields address them (their key fields), else the list is one field."""
    if isinstance(value, dict) and value:
        for name, child in value.items():
            live_child = live.get(name) if isinstance(live, dict) else None
            yield from _leaves(child, live_child, keys, (*path, ("f", name)))
        return
    key_fields = keys.get(path)
    if isinstance(value, list) and value and key_fields and all(isinstance(i, dict) for i in value):
        for item in value:
            step = _item_step(item, live, key_fields)
            _, live_item = _find_item(live, step)
            yield from _leaves(item, live_item, keys, (*path, step))
        return
    yield path, value


def _item_step(item: dict, live, key_fields: tuple) -> tuple:
    """The ``k:`` step of ``item``: its key fields' values, completed from the live item that
    matches on those it sets (the API server defaults some, e.g. a port's protocol)."""
    given = tuple((k, item[k]) for k in key_fields if k in item)
    for candidate in live if isinstance(live, list) else []:
        if isinstance(candidate, dict) and all(candidate.get(k) == v for k, v in given):
            return ("k", tuple(sorted((k, candidate.get(k)) for k in key_fields if k in candidate)))
    return ("k", tuple(sorted(given)))


def _find_item(items, step: tuple) -> tuple[bool, object]:
    if not isinstance(items, list):
        return False, None
    kind, value = step
    for index, item in enumerate(items):
        if kind == "k" and isinstance(item, dict) and all(item.get(k) == v for k, v in value):
            return True, item
        if kind == "v" and normalised(item) == normalised(value):
            return True, item
        if kind == "i" and index == value:
            return True, item
    return False, None


def lookup(obj, path: tuple) -> tuple[bool, object]:
    """(found, value) at ``path`` in ``obj``."""
    node = obj
    for step in path:
        if step[0] == "f":
            if not isinstance(node, dict) or step[1] not in node:
                return False, None
            node = node[step[1]]
        else:
            found, node = _find_item(node, step)
            if not found:
                return False, None
    return True, node


def _same(compiled, live) -> bool:
    """``live`` holds ``compiled``: a field owned whole (an atomic list, as KubeRay's worker
    groups) may have gained the API server's defaults inside it (``numOfHosts: 1``), which are
    not drift; every value the compiled field sets must be there, and a list keeps its length."""
    if _empty(compiled) and _empty(live):
        return True
    if isinstance(compiled, dict) and isinstance(live, dict):
        return all(
            _same(value, live[key]) if key in live else _empty(value)
            for key, value in compiled.items()
        )
    if isinstance(compiled, list) and isinstance(live, list):
        return len(compiled) == len(live) and all(map(_same, compiled, live))
    if isinstance(compiled, (int, float)) and isinstance(live, str):
        return str(compiled) == live  # a quantity written as a number, read back as a string
    return normalised(compiled) == normalised(live)


def _empty(value) -> bool:
    return value is None or value == {} or value == []


def _owners_of(path: tuple, every_owner: list[Owner]) -> tuple:
    """Managers owning ``path``, a field inside it, or the whole of a field holding it."""
    found = []
    for owner in every_owner:
        if any(_related(path, leaf) for leaf in owner.leaves) and owner.manager not in found:
            found.append(owner.manager)
    return tuple(found)


def _related(one: tuple, other: tuple) -> bool:
    shorter = min(len(one), len(other))
    return one[:shorter] == other[:shorter]


def _covered(path: tuple, compiled_leaves: dict) -> bool:
    return any(_related(path, leaf) for leaf in compiled_leaves)


def _uncompiled_root(path: tuple, compiled_leaves: dict) -> tuple:
    """The shortest part of ``path`` that today's output has nothing of."""
    for end in range(1, len(path) + 1):
        if not _covered(path[:end], compiled_leaves):
            return path[:end]
    return path


def _person_among(managers: tuple) -> bool:
    return any(m.startswith(PERSON_TOOL_PREFIX) for m in managers)
