"""Run:ai's merge rules over annotated trees (SPEC 3.2).

- mappings merge key by key, recursively; a scalar or a plain list from a higher layer replaces;
- itemized collections merge by label; a higher layer's item replaces the lower one whole;
  ``deleted: true`` removes the label;
- ``spec.types`` and kuberay ``Workers`` are structured items, merged recursively by label;
- order: items as the higher layer lists them, then those only lower layers define, in their order.

``deleted: true`` means something only on an item of an itemized collection (or a type); anywhere
else it is kept as written (and reported, see ``misplaced``). A value that replaces a collection
(``ports: ~``, ``storage: ~``) removes each item of it, and is recorded as a deletion of each.

Everything here is pure: inputs are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .itemized import kind_of
from .tree import Node, Origin


@dataclass
class MergeEvents:
    """What the merge saw that validation needs: deletions and whole-item replacements."""

    deletions: list = field(default_factory=list)  # (logical path, Origin of the deletion marker)
    replacements: list = field(
        default_factory=list
    )  # (logical path, Origin of the new item, Origin of the old)
    misplaced: list = field(default_factory=list)  # (path, Origin): `deleted` on a non-item


def merge(
    lower: Node | None, upper: Node, events: MergeEvents, path: tuple = (), in_place: bool = False
) -> Node:
    """Merge ``upper`` over ``lower``. ``in_place`` keeps the lower layer's order (a ``--set`` edit
    of one type must not reorder the types, which would change every ``JOB_GLOBAL_INDEX``)."""
    if lower is None:
        return _drop_deletions(upper, path, events)
    kind = kind_of(path)
    if kind and isinstance(lower.value, (dict, list)) and type(lower.value) is type(upper.value):
        how, label = kind
        if isinstance(upper.value, dict):
            return _merge_items(
                _as_items(lower), _as_items(upper), how, events, path, upper.origin, None, in_place
            )
        return _merge_items(
            _as_items(lower, label),
            _as_items(upper, label),
            how,
            events,
            path,
            upper.origin,
            label,
            in_place,
        )
    if isinstance(lower.value, dict) and isinstance(upper.value, dict):
        return _merge_items(
            _as_items(lower),
            _as_items(upper),
            "mapping",
            events,
            path,
            upper.origin,
            None,
            in_place,
        )
    _record_removed_items(lower, path, events, upper.origin)
    return _drop_deletions(upper, path, events)


def _record_removed_items(lower: Node, path: tuple, events: MergeEvents, origin: Origin) -> None:
    """``lower`` is replaced whole (by null, a scalar, a value of another shape): every itemized
    item inside it is removed, as if each were deleted by ``origin``."""
    value = lower.value
    if not isinstance(value, (dict, list)):
        return
    kind = kind_of(path)
    if isinstance(value, dict):
        pairs = list(value.items())
    elif kind and kind[1]:
        pairs = _as_items(lower, kind[1])
    else:
        return
    for label, child in pairs:
        if kind:
            events.deletions.append((path + (str(label),), origin))
        _record_removed_items(child, path + (str(label),), events, origin)


def _as_items(node: Node, label: str | None = None) -> list[tuple[str, Node]]:
    if isinstance(node.value, dict):
        return list(node.value.items())
    items = []
    for index, item in enumerate(node.value):
        member = item.value.get(label) if isinstance(item.value, dict) else None
        key = member.value if member is not None else None
        items.append((str(key) if key is not None else f"#{index}", item))
    return items


def _merge_items(
    lower, upper, how, events, path, origin: Origin, as_list: str | None, in_place: bool
) -> Node:
    lower_by_label = dict(lower)
    merged: list[tuple[str, Node]] = []
    mentioned = set()
    recursive = how in ("mapping", "structured-map", "structured-list")
    for label, item in upper:
        mentioned.add(label)
        item_path = path + (label,)
        if how != "mapping" and _deletes(item):
            events.deletions.append((item_path, item.origin))
            if label in lower_by_label:
                _record_removed_items(lower_by_label[label], item_path, events, item.origin)
            continue
        if how == "mapping" and _deletes(item):
            events.misplaced.append((item_path, item.origin))
        below = lower_by_label.get(label)
        if below is None:
            merged.append((label, _drop_deletions(item, item_path, events)))
        elif recursive:
            merged.append((label, merge(below, item, events, item_path, in_place)))
        else:
            events.replacements.append((item_path, item.origin, below.origin))
            merged.append((label, _drop_deletions(item, item_path, events)))
    merged.extend((label, item) for label, item in lower if label not in mentioned)
    if in_place:
        rank = {label: i for i, (label, _) in enumerate(lower)}
        merged.sort(key=lambda pair: rank.get(pair[0], len(rank)))
    if as_list is not None:
        return Node([item for _, item in merged], origin)
    return Node(dict(merged), origin)


def _drop_deletions(node: Node, path: tuple, events: MergeEvents) -> Node:
    """A layer's own ``deleted: true`` items have nothing to delete below them: drop them."""
    value = node.value
    if isinstance(value, dict):
        kind = kind_of(path)
        kept = {}
        for key, child in value.items():
            if kind and _deletes(child):
                events.deletions.append((path + (key,), child.origin))
                continue
            if not kind and _deletes(child):
                events.misplaced.append((path + (key,), child.origin))
            kept[key] = _drop_deletions(child, path + (key,), events)
        return Node(kept, node.origin)
    if isinstance(value, list):
        kind = kind_of(path)
        if kind and kind[1]:
            kept_items: list[Node] = []
            for label, child in _as_items(node, kind[1]):
                if _deletes(child):
                    events.deletions.append((path + (label,), child.origin))
                    continue
                kept_items.append(_drop_deletions(child, path + (label,), events))
            return Node(kept_items, node.origin)
    return node


def _deletes(node: Node) -> bool:
    marker = node.value.get("deleted") if isinstance(node.value, dict) else None
    return marker is not None and marker.value is True
