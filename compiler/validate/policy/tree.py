"""The logical tree rules address: list items by label, "*" for any one segment; the policies'
defaults at a path."""

from __future__ import annotations

from ...resolve import Resolved
from ...resolve.itemized import kind_of
from ..policy_load import LoadedPolicy, PolicyRule

MISSING = object()


POLICY_ROLES = ("global-policy", "project-policy")


DEFAULT_ROLES = ("built-in",) + POLICY_ROLES


ONE_POD_PER_JOB = ("pytorch", "xgboost", "jax", "tf")


# operators whose type names bind rules whatever their case: pytorch/xgboost/jax/tf read
# Master/master and Worker/worker alike, and every map-style operator emits lower-cased names
CASELESS_TYPES = ONE_POD_PER_JOB + ("jobset", "batchjob")


TYPES = ("spec", "types")


def children(value, logical: tuple):
    """(label, data key, child) of a mapping or list; itemized list items are labelled."""
    if isinstance(value, dict):
        return [(str(key), key, child) for key, child in value.items()]
    if isinstance(value, list):
        kind = kind_of(logical)
        member = kind[1] if kind else None
        out = []
        for index, item in enumerate(value):
            label = item.get(member) if member and isinstance(item, dict) else None
            out.append((str(label) if label is not None else str(index), index, item))
        return out
    return []


def caseless_types(data) -> bool:
    """Whether the operator of ``data`` reads type names case-insensitively."""
    spec = data.get("spec") if isinstance(data, dict) else None
    return isinstance(spec, dict) and spec.get("operator") in CASELESS_TYPES


def same_segment(parent: tuple, label: str, segment: str, fold: bool) -> bool:
    """``label`` (in the data) is ``segment`` (of a rule path); type names fold case when ``fold``."""
    if label == segment:
        return True
    return fold and parent == TYPES and label.lower() == segment.lower()


def pattern_matches(pattern: tuple, logical: tuple, fold: bool) -> bool:
    return len(pattern) == len(logical) and all(
        p == "*" or same_segment(logical[:i], s, p, fold)
        for i, (p, s) in enumerate(zip(pattern, logical, strict=True))
    )


def expand(data, pattern: tuple):
    """(logical path, data path, value) for every match of ``pattern``. A literal segment that is
    absent yields MISSING with the data path of the nearest existing ancestor."""
    fold = caseless_types(data)

    def walk(value, depth, logical, data_path):
        if depth == len(pattern):
            yield logical, data_path, value
            return
        segment = pattern[depth]
        kids = children(value, logical)
        if segment == "*":
            for label, key, child in kids:
                if logical == ("spec", "types") and label == "Workers" and isinstance(child, list):
                    # "*" under spec.types means every type: each kuberay worker group is one
                    for group, index, item in children(child, logical + (label,)):
                        yield from walk(
                            item, depth + 1, logical + (label, group), data_path + (key, index)
                        )
                    continue
                yield from walk(child, depth + 1, logical + (label,), data_path + (key,))
            return
        for label, key, child in kids:
            if same_segment(logical, label, segment, fold):
                yield from walk(child, depth + 1, logical + (label,), data_path + (key,))
                return
        if "*" not in pattern[depth:]:
            yield logical + pattern[depth:], data_path, MISSING

    yield from walk(data, 0, (), ())


def lookup(data, logical: tuple, fold: bool = False):
    """The value at ``logical`` in one layer's raw data, where ``spec.types["*"]`` stands for every
    type; ``fold``: type names match whatever their case."""
    return _lookup(data, logical, 0, fold)


def _lookup(data, logical, depth, fold=False):
    if depth == len(logical):
        return data
    segment = logical[depth]
    found = _first(
        _lookup(child, logical, depth + 1, fold)
        for label, _, child in children(data, logical[:depth])
        if same_segment(logical[:depth], label, segment, fold)
    )
    at_types = logical[:depth] == ("spec", "types") and isinstance(data, dict) and "*" in data
    if found is MISSING and at_types and not (segment == "Workers" and depth + 1 == len(logical)):
        # the "*" entry stands at the level of one type (or one Workers group)
        skip = 2 if segment == "Workers" else 1
        found = _lookup(data["*"], logical, depth + skip, fold)
    return found


def _first(values):
    for value in values:
        if value is not MISSING:
            return value
    return MISSING


def present(data, logical) -> bool:
    return any(value is not MISSING for _, _, value in expand(data, logical))


def policy_default(resolved: Resolved, policy: LoadedPolicy, logical: tuple):
    """The rule's own policy's default at ``logical``, else the merged defaults' value there."""
    fold = caseless_types(resolved.data)
    own = lookup(policy.defaults, logical, fold) if policy.defaults else MISSING
    if own is not MISSING:
        return own
    for layer in reversed(resolved.layers):
        if layer.role in DEFAULT_ROLES:
            value = lookup(layer.data, logical, fold)
            if value is not MISSING:
                return value
    return MISSING


def default_labels(resolved: Resolved, logical: tuple) -> set[str]:
    labels: set[str] = set()
    for layer in resolved.layers:
        if layer.role in POLICY_ROLES:
            collection = lookup(layer.data, logical)
            if collection is not MISSING:
                labels.update(label for label, _, _ in children(collection, logical))
    return labels


def expand_item_rules(rules: list[PolicyRule]) -> list[PolicyRule]:
    """``itemRules`` become plain rules on ``<collection>.*.<member>``."""
    out = []
    for entry in rules:
        out.append(entry)
        for member, rule in (entry.rule.itemRules or {}).items():
            key_path = entry.key_path + ("itemRules", member)
            where = entry.policy.document.positions.nearest(key_path, prefer_key=True)
            out += expand_item_rules(
                [PolicyRule(entry.pattern + ("*", member), rule, where, entry.policy, key_path)]
            )
    return out
