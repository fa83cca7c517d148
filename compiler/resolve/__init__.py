"""Stage 2: merge the layers of one workload into a single manifest, remembering every value's source."""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Location
from .defaults import builtin_defaults, expand_star, strip_star, type_names
from .merge import MergeEvents, merge
from .tree import Layer, Node, Origin, annotate, format_path, logical_path, strip


@dataclass
class Resolved:
    """The merged data of a workload's layers and which layer set each value."""

    data: dict
    origins: dict  # data path -> Origin
    layers: list[Layer]
    events: MergeEvents

    def origin(self, path: tuple) -> Origin | None:
        path = tuple(path)
        while path not in self.origins and path:
            path = path[:-1]
        return self.origins.get(path)

    def layer_of(self, path: tuple) -> Layer | None:
        origin = self.origin(path)
        return self.layers[origin.layer] if origin else None

    def location(self, path: tuple, key: bool = False) -> Location:
        """Where the value at ``path`` was written (its nearest written ancestor if it was not).
        ``key=True`` points at the key that introduces the value rather than at the value."""
        origin = self.origin(path)
        if origin is None:
            return self.layers[-1].location(())
        if self.layers[origin.layer].positions is None:
            return self._closest_written(tuple(path), key)
        return self.layers[origin.layer].location(origin.path, key)

    def _closest_written(self, path: tuple, key: bool) -> Location:
        """A value only the built-in defaults supply was written nowhere: point at the nearest
        ancestor some file wrote (the type that got the default), highest layer first."""
        best, best_depth = None, -1
        for layer in reversed(self.layers):
            if layer.positions is None:
                continue
            depth = next((n for n in range(len(path), -1, -1) if _written(layer, path[:n])), -1)
            if depth > best_depth:
                best, best_depth = layer, depth
        return best.location(path, key) if best else self.layers[-1].location(())

    def logical(self, path: tuple) -> tuple:
        return logical_path(self.data, path)

    @property
    def operator(self):
        spec = self.data.get("spec") if isinstance(self.data, dict) else None
        return spec.get("operator") if isinstance(spec, dict) else None


def _written(layer: Layer, path: tuple) -> bool:
    full = layer.base_path + path
    positions = layer.positions
    return positions is not None and (full in positions.values or full in positions.keys)


def resolve(layers: list[Layer]) -> Resolved:
    """Merge ``layers`` (lowest first, without the built-in layer, which is added here)."""
    # first the operator and the type names, from the part of each layer that decides them
    trees = [strip_star(annotate(_types_part(layer.data), i + 1)) for i, layer in enumerate(layers)]
    events = MergeEvents()
    in_place = [False] + [layer.role == "set" for layer in layers]
    skeleton = _fold(trees, MergeEvents(), in_place[1:])
    data, _ = strip(skeleton)
    spec = data.get("spec") if isinstance(data, dict) else None
    operator = spec.get("operator") if isinstance(spec, dict) else None
    names, groups = type_names(data, operator if isinstance(operator, str) else None)

    all_layers = [
        Layer(
            "built-in",
            "built-in defaults",
            builtin_defaults(operator if isinstance(operator, str) else None),
        )
    ] + list(layers)
    trees = [
        expand_star(annotate(layer.data, i), names, groups) for i, layer in enumerate(all_layers)
    ]
    root = _fold(trees, events, in_place)
    data, origins = strip(root)
    return Resolved(data if isinstance(data, dict) else {}, origins, all_layers, events)


def _types_part(data):
    """``spec.operator`` and ``spec.types`` of a layer (mappings merge key by key, so merging these
    alone gives the merged operator and types), or the layer as it is when it is not a mapping."""
    if not isinstance(data, dict) or "spec" not in data:
        return data if not isinstance(data, dict) else {}
    spec = data["spec"]
    if isinstance(spec, dict):
        spec = {key: spec[key] for key in ("operator", "types") if key in spec}
    return {"spec": spec}


def _fold(trees: list[Node], events: MergeEvents, in_place: list[bool]) -> Node:
    result = None
    for tree, keep_order in zip(trees, in_place, strict=True):
        if not isinstance(tree.value, dict):
            continue
        result = merge(result, tree, events, (), keep_order)
    return result if result is not None else Node({}, Origin(0, ()))


__all__ = ["Layer", "Origin", "Resolved", "format_path", "logical_path", "resolve"]
