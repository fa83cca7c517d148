"""Which collections are itemized, and how their items are labelled (SPEC 2.3).

A pattern is a tuple of path segments; ``"*"`` matches any one key. Paths are *logical*: an item
of a list collection is addressed by its label, not its index (``spec.types.Workers.gpu.count``).
"""

from __future__ import annotations

from functools import lru_cache

# label = the map key; a higher layer's item replaces the lower one whole
MAP_ITEMS = (
    ("spec", "env"),
    ("spec", "secrets"),
    ("spec", "ports"),
    ("spec", "labels"),
    ("spec", "annotations"),
    ("spec", "types", "*", "resources", "extraSelectors"),
    ("spec", "types", "Workers", "*", "resources", "extraSelectors"),
)
# list collections: pattern -> the member that labels an item; replaced whole
LIST_ITEMS = {
    ("spec", "storage", "attachExistingPVCs"): "name",
    ("spec", "types", "*", "resources", "extraTolerations"): "key",
    ("spec", "types", "Workers", "*", "resources", "extraTolerations"): "key",
}
# structured items: merged recursively by label
STRUCTURED_MAPS = (("spec", "types"),)
STRUCTURED_LISTS: dict[tuple[str, ...], str] = {("spec", "types", "Workers"): "name"}


def matches(pattern: tuple, path: tuple) -> bool:
    return len(pattern) == len(path) and all(
        p == "*" or p == s for p, s in zip(pattern, path, strict=True)
    )


@lru_cache(maxsize=1 << 16)
def kind_of(path: tuple) -> tuple[str, str | None] | None:
    """('map-items'|'list-items'|'structured-map'|'structured-list', label member) or None."""
    for pattern, label in STRUCTURED_LISTS.items():
        if matches(pattern, path):
            return "structured-list", label
    for pattern in STRUCTURED_MAPS:
        if matches(pattern, path):
            return "structured-map", None
    for pattern, label in LIST_ITEMS.items():
        if matches(pattern, path):
            return "list-items", label
    for pattern in MAP_ITEMS:
        if matches(pattern, path):
            return "map-items", None
    return None


def is_deletion(value) -> bool:
    return isinstance(value, dict) and value.get("deleted") is True
