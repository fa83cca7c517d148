"""The one place where what the API server sent is checked for shape before anything reads it.

A Kubernetes API server answers JSON objects: an object, a list of objects (``items``, with
``metadata.continue`` while there are more pages), a ``Status`` for errors, and, on a watch, one
event object a line. Every field this tool reads has the type the API server always gives it;
each is listed below (``FIELDS``). An answer that is anything else (HTML, a JSON list, a string, a
field of the wrong type, an object of another kind than asked for) raises :class:`NotKubernetes`,
which names the URL; after this check, the pure code (``state.py``, ``waiting.py``, ``kinds.py``)
reads objects without guarding each field again.

Pure: no client, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import NotKubernetes

STR, INT, BOOL, DICT, LIST = str, int, bool, dict, list
_STRINGS = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "generateName")
_CONDITION = ("type", "status", "reason", "message", "lastTransitionTime")
_COUNTERS = ("ready", "succeeded", "failed", "active", "suspended", "restarts")

# path -> type; "*" is every element of a list, "**" every value of a mapping. A field may be
# absent or null; when it is there it has this type (elements and values are never null).
FIELDS: dict[tuple[str, ...], type] = {
    ("kind",): STR,
    ("apiVersion",): STR,
    ("metadata",): DICT,
    **{("metadata", key): STR for key in (*_STRINGS, "deletionTimestamp")},
    ("metadata", "labels"): DICT,
    ("metadata", "labels", "**"): STR,
    ("metadata", "annotations"): DICT,
    ("metadata", "annotations", "**"): STR,
    ("metadata", "ownerReferences"): LIST,
    ("metadata", "ownerReferences", "*"): DICT,
    **{("metadata", "ownerReferences", "*", key): STR for key in ("kind", "name", "uid")},
    ("spec",): DICT,
    ("spec", "suspend"): BOOL,
    ("spec", "queueName"): STR,  # Kueue Workload
    ("spec", "managedBy"): STR,  # a job MultiKueue runs on a worker
    ("spec", "clusterSource"): DICT,  # MultiKueueCluster
    ("spec", "clusterSource", "kubeConfig"): DICT,
    ("spec", "clusterSource", "kubeConfig", "location"): STR,
    ("spec", "clusterSource", "kubeConfig", "locationType"): STR,
    ("data",): DICT,  # Secret, ConfigMap
    ("data", "**"): STR,
    ("spec", "priority"): INT,
    ("spec", "containers"): LIST,  # Pod
    ("spec", "containers", "*"): DICT,
    ("spec", "containers", "*", "name"): STR,
    ("status",): DICT,
    ("status", "conditions"): LIST,
    ("status", "conditions", "*"): DICT,
    **{("status", "conditions", "*", key): STR for key in _CONDITION},
    **{("status", key): INT for key in _COUNTERS},
    **{
        ("status", key): STR
        for key in (
            "phase",  # Pod
            "startTime",
            "completionTime",
            "endTime",
            "terminalState",  # JobSet
            "jobDeploymentStatus",  # RayJob
            "jobStatus",
            "reason",
            "message",
            "rayClusterName",
            "clusterName",  # Kueue Workload: the MultiKueue worker running it
        )
    },
    ("status", "uncountedTerminatedPods"): DICT,  # Job
    ("status", "uncountedTerminatedPods", "succeeded"): LIST,
    ("status", "uncountedTerminatedPods", "failed"): LIST,
    ("status", "replicatedJobsStatus"): LIST,  # JobSet
    ("status", "replicatedJobsStatus", "*"): DICT,
    ("status", "replicatedJobsStatus", "*", "name"): STR,
    **{("status", "replicatedJobsStatus", "*", key): INT for key in _COUNTERS},
    ("positionInLocalQueue",): INT,  # an item of Kueue's PendingWorkloadsSummary
}
# a Status (an error, or the answer to a DELETE) has a string where objects have their status
_STATUS_FIELDS = {
    ("kind",): STR,
    ("apiVersion",): STR,
    ("status",): STR,
    ("message",): STR,
    ("reason",): STR,
    ("code",): INT,
    ("details",): DICT,
    ("details", "name"): STR,
    ("details", "kind"): STR,
}
_CHILDREN: dict[tuple[str, ...], tuple[str, ...]] = {}
for _path in (*FIELDS, *_STATUS_FIELDS):
    _CHILDREN.setdefault(_path[:-1], ())
    _CHILDREN[_path[:-1]] += (_path[-1],)

_NAMES = {list: "a JSON list", dict: "an object", str: "a string", bool: "a boolean"}


def _what(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _NAMES.get(type(value), type(value).__name__)


def _fits(value: Any, expected: type) -> bool:
    if expected is INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _check_fields(
    node: Any, table: dict[tuple[str, ...], type], path: tuple[str, ...], where: str
) -> str | None:
    """Why ``node`` (at ``path`` of ``table``) does not have the listed shape, or None."""
    for key in _CHILDREN.get(path, ()):
        child = (*path, key)
        if child not in table:
            continue
        expected = table[child]
        if key in ("*", "**"):
            values = node if key == "*" else node.values()
            named = (f"{where}[{i}]" for i in range(len(node))) if key == "*" else node
        elif key in node:
            values, named = [node[key]], [f"{where}.{key}" if where else key]
        else:
            continue
        for value, name in zip(values, named, strict=True):
            label = name if key != "**" else f"{where}[{name!r}]"
            if value is None and key not in ("*", "**"):  # a field may be null, an element not
                continue
            if not _fits(value, expected):
                return f"{label} is {_what(value)}, not {_what(expected())}"
            if expected in (DICT, LIST):
                problem = _check_fields(value, table, child, label)
                if problem:
                    return problem
    return None


def object_problem(
    obj: Any, kind: str | None = None, where: str = "", named: bool = True
) -> str | None:
    """Why ``obj`` is not an object as the API server sends it (of ``kind``, when given, which
    an object without one is given)."""
    if not isinstance(obj, dict):
        return f"{where or 'the answer'} is {_what(obj)}, not an object"
    if obj.get("kind") == "Status":
        return _check_fields(obj, _STATUS_FIELDS, (), where)
    problem = _check_fields(obj, FIELDS, (), where)
    if problem:
        return problem
    if named and not isinstance((obj.get("metadata") or {}).get("name"), str):
        return f"{(where + '.') if where else ''}metadata.name is missing"
    if kind and obj.get("kind") not in (None, kind):
        return f"{(where + '.') if where else ''}kind is {obj['kind']!r}, not {kind}"
    if kind and obj.get("kind") is None:
        obj["kind"] = kind  # list items come without it; every object leaves here with one
    return None


def checked(data: Any, url: str, kind: str | None = None, listing: bool | None = None) -> dict:
    """A decoded JSON answer: an object, or a list whose every item is one (of ``kind``).
    ``listing``: whether a list is asked for (None: unknown, a list if it looks like one)."""
    if not isinstance(data, dict):
        raise NotKubernetes(url, f"the answer is {_what(data)}, not a JSON object")
    if listing is None:
        listing = "items" in data or str(data.get("kind") or "").endswith("List")
    if listing:
        if kind and data.get("kind") != f"{kind}List":
            raise NotKubernetes(url, f"kind is {data.get('kind')!r}, not {kind}List")
        if data.get("kind") is not None and not isinstance(data["kind"], str):
            raise NotKubernetes(url, f"kind is {_what(data['kind'])}, not a string")
        if "items" not in data:
            raise NotKubernetes(url, "a list without items")
        items = data.get("items")
        if items is not None and not isinstance(items, list):
            raise NotKubernetes(url, f"items is {_what(items)}, not a list")
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise NotKubernetes(url, f"metadata is {_what(metadata)}, not an object")
        for key in ("continue", "resourceVersion"):
            value = (metadata or {}).get(key)
            if value is not None and not isinstance(value, str):
                raise NotKubernetes(url, f"metadata.{key} is {_what(value)}, not a string")
        for index, item in enumerate(items or []):
            problem = object_problem(item, kind, f"items[{index}]")
            if problem:
                raise NotKubernetes(url, problem)
        return data
    problem = object_problem(data, kind)
    if problem:
        raise NotKubernetes(url, problem)
    return data


def decoded(body: bytes, content_type: str, url: str) -> Any:
    """The JSON of an answer; NotKubernetes for HTML or anything that is not JSON."""
    if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
        raise NotKubernetes(url, f"the answer is HTML ({content_type or 'no Content-Type'})")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _not_json(body, content_type, url)


def _not_json(body: bytes, content_type: str, url: str):
    start = body[:60].decode("utf-8", "replace")
    raise NotKubernetes(
        url, f"the answer is not JSON ({content_type or 'no Content-Type'}): {start!r}"
    )


WATCH_TYPES = ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")


def checked_event(line: bytes, url: str, kind: str | None = None) -> tuple[str, dict]:
    """One line of a watch: (type, object), the object checked (a Status for ERROR)."""
    event = decoded(line, "application/json", url)
    if not isinstance(event, dict):
        raise NotKubernetes(url, f"a watch event is {_what(event)}, not an object")
    kind_of_event = event.get("type")
    if kind_of_event not in WATCH_TYPES:
        raise NotKubernetes(url, f"a watch event has type {kind_of_event!r}")
    obj: Any = event.get("object")
    if kind_of_event == "ERROR":
        obj = obj if isinstance(obj, dict) else {}
        problem = _check_fields(obj, _STATUS_FIELDS, (), "object")
    else:  # a bookmark carries only a resourceVersion (and the kind)
        problem = object_problem(obj, kind, "object", named=kind_of_event != "BOOKMARK")
    if problem:
        raise NotKubernetes(url, f"a watch event's {problem}")
    return str(kind_of_event), obj


def error_status(body: bytes, content_type: str, url: str) -> dict | None:
    """The ``Status`` of an HTTP error; None for Go's plain ``404 page not found`` (an API
    server's answer for a path it does not serve); NotKubernetes for anything else."""
    if body.strip() == b"404 page not found":
        return None
    data = decoded(body, content_type, url)
    if not isinstance(data, dict) or data.get("kind") != "Status":
        raise NotKubernetes(url, f"an error answer is {_what(data)} without a Kubernetes Status")
    problem = _check_fields(data, _STATUS_FIELDS, (), "")
    if problem:
        raise NotKubernetes(url, problem)
    return data
