"""Policy rules and limits on the merged manifest (SPEC 2.4), every violation at once.

A violation points at the value (file:line:col of the layer that set it) and carries, as related
entries, the rule's own location and who set the value. A violation by a value the base workload
set is E206: the base was valid once, the policy changed since.
"""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

from ..diagnostics import Diagnostic, Location, Related, error
from ..emit import quantity
from ..emit.jobset import tpu_hosts
from ..emit.rayjob import SUBMITTER_REQUESTS, writes_default_submitter
from ..model.scalars import duration_seconds, number_as_text
from ..resolve import Resolved
from ..resolve.itemized import kind_of
from ..resolve.tree import format_path
from .pattern import searches
from .policy_load import LoadedPolicy, PolicyRule, load_policy

MISSING = object()
USER_ROLES = ("base", "workload", "set")
POLICY_ROLES = ("global-policy", "project-policy")
DEFAULT_ROLES = ("built-in",) + POLICY_ROLES
ONE_POD_PER_JOB = ("pytorch", "xgboost", "jax", "tf")
# operators whose type names bind rules whatever their case: pytorch/xgboost/jax/tf read
# Master/master and Worker/worker alike, and every map-style operator emits lower-cased names
CASELESS_TYPES = ONE_POD_PER_JOB + ("jobset", "batchjob")
TYPES = ("spec", "types")
# two fields that write one output value: the deadline is timeout if set, else activeDeadlineSeconds
DEADLINE_FIELDS = (("spec", "timeout"), ("spec", "activeDeadlineSeconds"))

_LOADED: dict[int, tuple] = {}


def load_policy_once(document) -> tuple[LoadedPolicy | None, list[Diagnostic]]:
    """:func:`load_policy`, memoised per document: the catalog reports the problems once and
    every workload reuses the loaded rules."""
    cached = _LOADED.get(id(document))
    if cached is None or cached[0] is not document:
        cached = (document, load_policy(document))
        _LOADED[id(document)] = cached
    return cached[1]


def loaded_policy(document) -> LoadedPolicy | None:
    return load_policy_once(document)[0]


def policies_for(policy_documents, project: str | None) -> list[LoadedPolicy]:
    """Every global policy, then every policy of ``project``, in catalog order."""
    loaded = [p for p in (loaded_policy(d) for d in policy_documents) if p is not None]
    return [p for p in loaded if p.project is None] + [
        p for p in loaded if project and p.project == project
    ]


def check_policies(
    resolved: Resolved, policies: list[LoadedPolicy], types=None
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for policy in policies:
        for rule in expand_item_rules(policy.rules):
            if rule.pattern in LABEL_FIELDS:
                out += _check_label_field(resolved, rule)
            else:
                out += _check_rule(resolved, rule)
        if policy.limits is not None and types is not None:
            out += check_limits(resolved, policy, types)
    return out


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


# ---------------------------------------------------------------------------------------------
# the logical tree: list items by label, "*" for any one segment


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


# ---------------------------------------------------------------------------------------------
# one rule


def _blank(value) -> bool:
    """No value for ``required``: absent, null, a blank string, an empty collection."""
    if value is MISSING or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (dict, list)) and not value


def _check_rule(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    rule = entry.rule
    out = []
    if entry.pattern in DEADLINE_FIELDS:
        out += _check_other_deadline(resolved, entry)
    for logical, data_path, value in expand(resolved.data, entry.pattern):
        derived = _derived_memory(resolved, logical) if _blank(value) else None
        if derived is not None:
            out += derived_violations(resolved, entry, logical, derived)
            continue
        if _blank(value) and rule.required and not _deadline_set_elsewhere(resolved, logical):
            out.append(
                _violation(
                    "E406",
                    "the policy requires a value here; none is set",
                    resolved,
                    entry,
                    logical,
                    data_path,
                )
            )
        if value is MISSING or value is None:
            if rule.canEdit is False:
                out += _check_locked_absent(resolved, entry, logical, data_path)
            continue
        out += _check_value(resolved, entry, logical, data_path, value)
    if rule.canRemove is False:
        out += _check_removals(resolved, entry)
    return out


MEMORY_FIELDS = ("memory", "ramRatio")
# labels only a field writes (spec.labels may not, E210): a value rule on the label binds the field
LABEL_FIELDS = {
    ("spec", "labels", "kueue.x-k8s.io/queue-name"): ("spec", "queue"),
    ("spec", "labels", "kueue.x-k8s.io/priority-class"): ("spec", "priority"),
}
NOT_VALUE_RULES = ("forbidden", "canEdit", "canAdd", "canRemove", "itemRules")
RULE_VALUE_KEYS = ("required", "min", "max", "step", "options", "pattern")


def _check_label_field(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    """``options``, ``pattern``, bounds and ``required`` on the Kueue queue or priority label bind
    ``spec.queue`` or ``spec.priority``, the one field that writes it."""
    value_keys = [key for key in RULE_VALUE_KEYS if getattr(entry.rule, key) is not None]
    on_field = entry.rule.model_copy(update=dict.fromkeys(NOT_VALUE_RULES))
    on_label = entry.rule.model_copy(update=dict.fromkeys(value_keys))
    field = LABEL_FIELDS[entry.pattern]
    return _check_rule(resolved, dataclasses.replace(entry, rule=on_label)) + _check_rule(
        resolved, dataclasses.replace(entry, pattern=field, rule=on_field)
    )


def _derived_memory(resolved: Resolved, logical: tuple):
    """(the field that wrote it, its value) for ``memory`` and ``ramRatio``, which are two
    spellings of one output (memory = cpus x ramRatio): a rule on one binds what the other wrote."""
    if len(logical) < 2 or logical[-2] != "resources" or logical[-1] not in MEMORY_FIELDS:
        return None
    found = [value for _, _, value in expand(resolved.data, logical[:-1])]
    resources = found[0] if found else None
    if not isinstance(resources, dict):
        return None
    other = MEMORY_FIELDS[1 - MEMORY_FIELDS.index(logical[-1])]
    cpus, written = _as_number(resources.get("cpus", 1)), _as_number(resources.get(other))
    if written is None or not cpus:
        return None
    value = cpus * written if logical[-1] == "memory" else written / cpus
    return other, value


def derived_violations(resolved, entry, logical, derived) -> list[Diagnostic]:
    other, value = derived
    path = logical[:-1] + (other,)
    data_path = next((dp for _, dp, _ in expand(resolved.data, path)), path)
    shown = format_path(logical)
    return [
        _violation(
            code,
            f"{message} (the {logical[-1]} that {other} gives, as memory = cpus x ramRatio; "
            f"the policy rules {shown})",
            resolved,
            entry,
            path,
            data_path,
        )
        for code, message in _scalar_problems(entry.rule, _round(value))
    ]


def _effective_deadline_field(data) -> tuple | None:
    """The field whose value becomes activeDeadlineSeconds: timeout wins over activeDeadlineSeconds."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return None
    return next((("spec", key) for _, key in DEADLINE_FIELDS if spec.get(key) is not None), None)


def _deadline_set_elsewhere(resolved: Resolved, logical: tuple) -> bool:
    effective = _effective_deadline_field(resolved.data)
    return logical in DEADLINE_FIELDS and effective is not None and effective != logical


def _check_other_deadline(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    """A rule on one deadline field binds the deadline the other field wrote (SPEC 2.4: a rule
    binds the value that reaches the output): bounds, options, pattern and forbidden."""
    effective = _effective_deadline_field(resolved.data)
    if effective is None or effective == entry.pattern:
        return []
    value = resolved.data["spec"][effective[1]]
    problems = _scalar_problems(entry.rule, value)
    setter = resolved.layer_of(effective)
    if entry.rule.forbidden and setter is not None and setter.role in USER_ROLES:
        problems.append(("E408", "the policy forbids setting the deadline; remove it"))
    shown = format_path(entry.pattern)
    return [
        _violation(
            code,
            f"{message} (this field sets the deadline that {shown} rules)",
            resolved,
            entry,
            effective,
            effective,
        )
        for code, message in problems
    ]


def _check_value(resolved, entry, logical, data_path, value) -> list[Diagnostic]:
    rule = entry.rule
    setter = resolved.layer_of(data_path)
    problems: list[tuple[str, str]] = []
    if rule.forbidden and setter is not None and setter.role in USER_ROLES:
        problems.append(("E408", "the policy forbids setting this field; remove it"))
    problems += _scalar_problems(rule, value)
    if rule.canEdit is False:
        expected = policy_default(resolved, entry.policy, logical)
        if not _same(value, expected):
            shown = "no value" if expected is MISSING else _show(expected)
            problems.append(
                (
                    "E407",
                    f"{_show(value)} differs from the policy default {shown}; the policy does not allow editing it",
                )
            )
    out = [
        _violation(code, message, resolved, entry, logical, data_path) for code, message in problems
    ]
    if rule.canAdd is False:
        out += _check_additions(resolved, entry, logical, data_path, value)
    return out


def _scalar_problems(rule, value) -> list[tuple[str, str]]:
    out = []
    number = _as_number(value)
    maximum = _as_number(rule.max) if rule.max is not None else None
    minimum = _as_number(rule.min) if rule.min is not None else None
    if number is not None:
        if maximum is not None and number > maximum:
            out.append(("E401", f"{_show(value)} is above the maximum {_show(rule.max)}"))
        if minimum is not None and number < minimum:
            out.append(("E402", f"{_show(value)} is below the minimum {_show(rule.min)}"))
        if rule.step is not None and not _on_step(value, rule):
            start = _as_number(rule.min) if rule.min is not None else 0
            out.append(
                (
                    "E403",
                    f"{_show(value)} is not {_show(start)} plus a multiple of the step {_show(rule.step)}",
                )
            )
    if (
        rule.options is not None
        and not isinstance(value, (dict, list))
        and not any(_same(value, o) for o in rule.options)
    ):
        out.append(
            (
                "E404",
                f"{_show(value)} is not one of the options: {', '.join(_show(o) for o in rule.options)}",
            )
        )
    if rule.pattern is not None:
        text = value if isinstance(value, str) else number_as_text(value)
        if isinstance(text, str) and searches(rule.pattern, text) is False:
            out.append(("E405", f"{_show(text)} does not match the pattern '{rule.pattern}'"))
    return out


def _on_step(value, rule) -> bool:
    """Exactly min + k x step, in the decimals as written (0.1 is one tenth, not the nearest float)."""
    number, step = _exact(value), _exact(rule.step)
    start = _exact(rule.min) if rule.min is not None else Fraction(0)
    if number is None or start is None or not step:
        return True
    return ((number - start) / step).denominator == 1


def _exact(value) -> Fraction | None:
    """A number or duration as an exact fraction of its written decimal; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return Fraction(duration_seconds(value))
        except ValueError:
            return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        try:
            return Fraction(getattr(value, "text", None) or repr(value))
        except ValueError:  # inf, nan
            return None
    return None


def _check_additions(resolved, entry, logical, data_path, value) -> list[Diagnostic]:
    allowed = default_labels(resolved, logical)
    out = []
    for label, key, _ in children(value, logical):
        if label in allowed:
            continue
        shown = ", ".join(sorted(allowed)) or "none"
        message = f"item {label!r} is not among the policy's items ({shown}); the policy does not allow adding items"
        out.append(
            _violation(
                "E409",
                message,
                resolved,
                entry,
                logical + (label,),
                data_path + (key,),
                shown_path=logical,
            )
        )
    return out


def _check_locked_absent(resolved, entry, logical, data_path) -> list[Diagnostic]:
    expected = policy_default(resolved, entry.policy, logical)
    if expected is MISSING:
        return []
    deletion = _deletion_of(resolved, logical)
    message = (
        f"the policy default {_show(expected)} was removed; the policy does not allow editing it"
    )
    if deletion is None:
        return [_violation("E407", message, resolved, entry, logical, data_path)]
    return [_deleted_violation("E407", message, resolved, entry, logical, deletion)]


def _check_removals(resolved, entry) -> list[Diagnostic]:
    out = []
    fold = caseless_types(resolved.data)
    reported = set()
    for logical, origin in resolved.events.deletions:
        if not pattern_matches(entry.pattern, logical, fold) or _present(resolved.data, logical):
            continue
        if logical in reported:
            continue
        below = [
            layer
            for layer in resolved.layers[: origin.layer]
            if lookup(layer.data, logical, fold) is not MISSING
        ]
        if below:
            reported.add(logical)
            message = f"item {logical[-1]!r} may not be removed (it comes from {below[-1].name})"
            out.append(_deleted_violation("E410", message, resolved, entry, logical, origin))
    return out


def _present(data, logical) -> bool:
    return any(value is not MISSING for _, _, value in expand(data, logical))


def _deletion_of(resolved, logical):
    found = [origin for path, origin in resolved.events.deletions if path == logical]
    return found[-1] if found else None


# ---------------------------------------------------------------------------------------------
# defaults of the policies


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


# ---------------------------------------------------------------------------------------------
# limits: totals over all pods


def workload_totals(operator: str, types, submitter: bool = False) -> dict[str, float]:
    """pods, cpus, memoryGB and gpus over the whole workload (per-pod values x pods)."""
    totals = {"pods": 0, "cpus": 0.0, "memoryGB": 0.0, "gpus": 0}
    for _, pods, per_pod in pod_groups(operator, types, submitter):
        totals["pods"] += pods
        for name, amount in per_pod.items():
            totals[name] += pods * amount
    return totals


def pod_groups(operator, types, submitter: bool = False):
    """(type label, pods, per-pod {cpus, memoryGB, gpus}) for each group of identical pods.
    ``submitter``: the RayJob carries KubeRay's default submitter pod written out
    (rayjob.writes_default_submitter), one pod more."""
    for name, pods, resources in pod_resources(operator, types):
        yield name, pods, _per_pod(resources)
    if not isinstance(types, dict) and getattr(types, "Job", None) is None and submitter:
        yield "submitter", 1, dict(SUBMITTER_REQUESTS)


def pod_resources(operator, types):
    """(type label, pods, the manifest's resources) for each group of identical pods the
    manifest sizes (a RayJob's default submitter, which it does not, left out)."""
    if isinstance(types, dict):
        for name, job_type in types.items():
            count = job_type.count or 1
            per_job = 1 if operator in ONE_POD_PER_JOB else (job_type.completions or 1)
            if operator == "jobset" and tpu_hosts(job_type.resources) > 1:
                per_job = tpu_hosts(job_type.resources)  # each Job is a slice, a pod per host
            yield name, count * per_job, job_type.resources
        return
    yield "Head", 1, types.Head.resources
    for group in types.Workers:  # a multi-host TPU group: each replica is numOfHosts pods
        yield group.name, group.count * tpu_hosts(group.resources), group.resources
    if getattr(types, "Job", None) is not None:
        yield "Job", 1, types.Job.resources


def tpu_totals(operator, types) -> dict[str, int]:
    """TPU chips over the whole workload, per TPU type (google.com/tpu x pods)."""
    out: dict[str, int] = {}
    for _, pods, resources in pod_resources(operator, types):
        tpu = resources.accelerators.tpu if resources.accelerators else None
        if tpu is not None:
            out[tpu.type] = out.get(tpu.type, 0) + pods * tpu.tpuChipsCount
    return out


def _per_pod(resources) -> dict[str, float]:
    """Per-pod amounts as the emitted quantities state them (rounded to millicores and bytes)."""
    cpus = resources.cpus if resources.cpus is not None else 1
    memory = resources.memory if resources.memory is not None else cpus * (resources.ramRatio or 0)
    gpu = (
        resources.accelerators.gpu
        if resources.accelerators and resources.accelerators.gpu
        else None
    )
    return {
        "cpus": _emitted(quantity.cpu_millis, cpus, 1000),
        "memoryGB": _emitted(quantity.memory_bytes, memory, 1 << 30),
        "gpus": gpu.count if gpu else 0,
    }


def _emitted(to_unit, amount: float, per_unit: int) -> float:
    """``amount`` as the emitted quantity states it; beyond any quantity (E104 says so): as given."""
    try:
        return to_unit(amount) / per_unit
    except (OverflowError, ValueError):
        return amount


def check_limits(resolved: Resolved, policy: LoadedPolicy, types) -> list[Diagnostic]:
    if policy.limits is None:
        return []
    submitter = _writes_submitter(resolved)
    totals = workload_totals(resolved.operator, types, submitter)
    out = []
    for name, limit in policy.limits.model_dump(exclude_none=True).items():
        if totals[name] > limit:
            message = f"the workload's total {name} {_show(_round(totals[name]))} ({_breakdown(resolved.operator, types, name, submitter)}) is above the limit {_show(limit)}"
            related = [Related(policy.label, policy.limit_location(name))]
            out.append(error("E411", message, _types_location(resolved), "spec.types", related))
    return out


def _writes_submitter(resolved: Resolved) -> bool:
    spec = resolved.data.get("spec") if isinstance(resolved.data, dict) else None
    if resolved.operator not in ("kuberay", "ray") or not isinstance(spec, dict):
        return False
    return writes_default_submitter(
        spec.get("serviceAccountName"), spec.get("imagePullSecrets"), spec.get("runtimeEnv")
    )


def _breakdown(operator, types, name: str, submitter: bool = False) -> str:
    parts = []
    for label, pods, per_pod in pod_groups(operator, types, submitter):
        parts.append(
            f"{label}: {pods} pod{'s' if pods != 1 else ''}"
            if name == "pods"
            else f"{label}: {pods} x {_show(_round(per_pod[name]))}"
        )
    return ", ".join(parts)


def _types_location(resolved: Resolved) -> Location:
    """spec.types as the workload (else its base) wrote it: totals are the workload's doing."""
    for layer in reversed(resolved.layers):
        if (
            layer.role in ("workload", "base")
            and lookup(layer.data, ("spec", "types")) is not MISSING
        ):
            return layer.location(("spec", "types"), key=True)
    return resolved.location(("spec", "types"), key=True)


def _round(value):
    return int(value) if float(value).is_integer() else round(value, 3)


# ---------------------------------------------------------------------------------------------
# diagnostics


def describe(layer) -> str:
    return "the built-in defaults" if layer.role == "built-in" else layer.name


def _violation(code, message, resolved, entry, logical, data_path, shown_path=None) -> Diagnostic:
    setter = resolved.layer_of(data_path) if data_path is not None else None
    related = [Related(entry.policy.label, entry.location)]
    exists = _present(resolved.data, logical)
    if setter is not None and exists:
        related.append(Related(f"value set by {describe(setter)}"))
    if setter is not None and exists and setter.role == "base":
        code, message = (
            "E206",
            f"{message}: {setter.name} no longer satisfies the current policy (the policy changed)",
        )
    where = resolved.location(data_path, key=False)
    return error(code, message, where, format_path(shown_path or logical), related)


def _deleted_violation(code, message, resolved, entry, logical, origin) -> Diagnostic:
    layer = resolved.layers[origin.layer]
    related = [
        Related(entry.policy.label, entry.location),
        Related(f"deleted by {describe(layer)}"),
    ]
    if layer.role == "base":
        code, message = (
            "E206",
            f"{message}: {layer.name} no longer satisfies the current policy (the policy changed)",
        )
    return error(
        code, message, layer.location(origin.path, key=True), format_path(logical), related
    )


def _as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(duration_seconds(value))
        except ValueError:
            return None
    return None


def _same(value, expected) -> bool:
    if value == expected and type(value) is not bool and type(expected) is not bool:
        return True
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    if isinstance(expected, str) and not isinstance(value, str):
        return number_as_text(value) == expected
    return False


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = getattr(value, "text", None)
        if text:
            return text
        return (
            str(int(value))
            if isinstance(value, float) and value.is_integer() and abs(value) < 1e15
            else str(value)
        )
    if isinstance(value, str):
        return value if re.fullmatch(r"[0-9]+(\.[0-9]+)?[wdhms]?", value) else repr(value)
    if isinstance(value, (dict, list)):
        return _flow(value)
    return str(value)


def _flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return _show(value)


# ---------------------------------------------------------------------------------------------
# the image that runs


def check_emitted_image(
    resolved: Resolved, policies: list[LoadedPolicy], written: str, emitted: str | None
) -> list[Diagnostic]:
    """Rules on ``spec.image`` bind the image the containers run: pinned by --image-digest (and
    moved under ``builder.registry``), it is another string than ``spec.image`` as written."""
    if not emitted or emitted == written:
        return []
    path = ("spec", "image")
    out = []
    for policy in policies:
        for entry in expand_item_rules(policy.rules):
            if entry.pattern != path:
                continue
            rule = entry.rule
            problems = []
            if rule.pattern is not None and searches(rule.pattern, emitted) is False:
                problems.append(("E405", f"does not match the pattern '{rule.pattern}'"))
            moved = _repository(emitted) != _repository(written)
            if (
                rule.options is not None
                and emitted not in rule.options
                and (moved or written not in rule.options)
            ):
                shown = ", ".join(_show(o) for o in rule.options)
                problems.append(("E404", f"is not one of the options: {shown}"))
            for code, complaint in problems:
                message = (
                    f"the image that runs, {emitted!r} (spec.image pinned by --image-digest, "
                    f"under builder.registry when set), {complaint}"
                )
                out.append(_violation(code, message, resolved, entry, path, path))
    return out


def _repository(image: str) -> str:
    """``registry/path`` of an image reference, without its tag and digest."""
    rest = image.split("@", 1)[0]
    colon, slash = rest.rfind(":"), rest.rfind("/")
    return rest[:colon] if colon > slash else rest
