"""A policy's rules and limits as CEL checks over the objects they produce (SPEC 2.4, issue 16).

Each rule key of each rule becomes either a :class:`Check` (what the API server holds) or a
:class:`Left` entry saying why the cluster cannot hold it (the rule only means something on the
manifest, or the object does not show the value).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..diagnostics import Diagnostic, warning
from ..emit.workload import pinned_queue
from ..model.scalars import duration_seconds
from ..resolve.tree import format_path
from ..validate.policy import expand_item_rules
from ..validate.policy_load import LoadedPolicy, PolicyRule
from .kinds import GPU, GROUPS, KINDS, WORKLOADS, Kind, images, lit

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
# labels the compiler writes itself (from spec.queue, spec.priority, the project, the name): a
# rule that forbids them on spec.labels cannot be told apart from the compiler's own on the object
COMPILER_LABELS = (
    QUEUE_LABEL,
    PRIORITY_LABEL,
    "app.kubernetes.io/managed-by",
    "manifest-compiler/workload",
    "manifest-compiler/project",
)
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
LIMIT_NAMES = ("gpus", "cpus", "memoryGB", "pods")
MANIFEST_ONLY = {
    "canEdit": "compares with the policy's default, which the object does not record",
    "canAdd": "compares with the items of the policy's defaults; the compiler adds its own",
    "canRemove": "concerns what a template or workload deletes from a lower layer",
    "step": "not enforced in the cluster",
}
# Python regular-expression syntax that RE2 (CEL's `matches`) does not have
_NOT_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\(\?P=|\\[1-9]|\(\?>|\(\?\(|\\Z")


@dataclass(frozen=True)
class Check:
    kinds: tuple[str, ...]  # the kinds it applies to
    expression: Callable[[Kind], str]
    message: str
    detail: Callable[[Kind], str] | None = None  # CEL string that says where, for messageExpression


@dataclass(frozen=True)
class Left:
    policy: str
    path: str
    keys: tuple[str, ...]
    reason: str

    def describe(self) -> str:
        return f"policy {self.policy}: {self.path} {', '.join(self.keys)}: {self.reason}"


@dataclass
class Translation:
    checks: list[Check]
    left: list[Left]
    diagnostics: list[Diagnostic]


ALL = tuple(kind.name for kind in WORKLOADS)  # workload-level rules: the kinds compile emits
PER_POD = (*ALL, "Pod")  # rules on what one pod runs: also every Pod, whoever makes it


def translate(policy: LoadedPolicy, context: dict) -> Translation:
    """``context``: facts about the whole policy set (``defaulted_labels``: label keys some
    policy's defaults or quota put on the object)."""
    out = Translation([], [], [])
    for entry in expand_item_rules(policy.rules):
        _rule(entry, context, out)
    if policy.limits is not None:
        for name, limit in policy.limits.model_dump(exclude_none=True).items():
            out.checks.append(_limit(policy, name, limit))
    if _counts_gpus(policy):
        out.checks.append(_no_device_claims(policy))
    if policy.project and policy.quota is not None:
        out.checks.append(_queue_for_quota(policy))
    return out


def _counts_gpus(policy: LoadedPolicy) -> bool:
    """Does the policy bound GPUs (a rule on a GPU count, a GPU total, a quota)?"""
    if policy.quota is not None or (policy.limits is not None and policy.limits.gpus is not None):
        return True
    return any(
        entry.pattern[-len(_GPU_COUNT) :] == _GPU_COUNT for entry in expand_item_rules(policy.rules)
    )


def _no_device_claims(policy: LoadedPolicy) -> Check:
    """A DRA claim (``spec.resourceClaims``) names devices in another object: what it asks for
    is not countable here, nor by Kueue's quota, so a policy that bounds GPUs refuses it."""
    message = (
        "a pod claims devices through DRA (spec.resourceClaims), which this policy cannot "
        f"count as GPUs (policy {policy.name}, {policy.document.file})"
    )
    condition = "!has(g.spec.resourceClaims) || size(g.spec.resourceClaims) == 0"
    return Check(
        PER_POD,
        lambda _kind: f"{GROUPS}.all(g, {condition})",
        message,
        lambda _kind: f"{GROUPS}.filter(g, !({condition})).map(g, g.label).join(', ')",
    )


def _queue_for_quota(policy: LoadedPolicy) -> Check:
    """Kueue counts against the project's quota only the workloads that name a queue."""
    labels = "object.metadata.labels"
    where = policy.document.positions.nearest(("spec", "quota"), prefer_key=True)
    message = (
        f"the label {QUEUE_LABEL} is required: project {policy.project} has a quota, which "
        f"Kueue holds only on workloads that name a queue (policy {policy.name}, quota at {where})"
    )
    expression = (
        f"has({labels}) && {lit(QUEUE_LABEL)} in {labels} && {labels}[{lit(QUEUE_LABEL)}] != ''"
    )
    return Check(ALL, lambda _kind: expression, message)


def _rule(entry: PolicyRule, context: dict, out: Translation) -> None:
    rule = entry.rule
    keys = {
        key: value
        for key, value in rule.model_dump(exclude_none=True).items()
        if key != "itemRules" and not _inert(key, value)
    }
    if not keys:
        return
    path = entry.pattern
    shown = format_path(path)
    handler = _handler(path)
    held: set[str] = set()
    if handler is not None:
        held = handler(entry, keys, context, out)
    manifest_only = [k for k in keys if k in MANIFEST_ONLY and k not in held]
    for key in manifest_only:
        out.left.append(Left(entry.policy.name, shown, (key,), MANIFEST_ONLY[key]))
    rest = tuple(k for k in keys if k not in held and k not in MANIFEST_ONLY)
    if rest:
        reason = (
            "not enforced in the cluster"
            if handler is None
            else "not readable from the objects as this rule states it"
        )
        out.left.append(Left(entry.policy.name, shown, rest, reason))


def _inert(key: str, value) -> bool:
    """A rule key that asks for nothing: ``required: false``, ``canEdit: true``, …"""
    if key in ("required", "forbidden"):
        return value is False
    if key in ("canEdit", "canAdd", "canRemove"):
        return value is True
    return False


def _handler(path: tuple):
    if path == ("spec", "image"):
        return _image
    if path == ("spec", "operator"):
        return _operator
    if path in (("spec", "timeout"), ("spec", "activeDeadlineSeconds")):
        return _deadline
    if path == ("spec", "restartPolicy", "backoffLimit"):
        return _retries
    if path in (("spec", "queue"), ("spec", "priority")) or (
        len(path) == 3 and path[:2] == ("spec", "labels") and path[2] != "*"
    ):
        return _label
    types = _type_of(path)
    if types is None:
        return None
    _, rest = types
    if rest == ("count",):
        return _count
    if rest in (("resources", "cpus"), ("resources", "memory"), _GPU_COUNT):
        return _amount
    if rest == _GPU_PRODUCT:
        return _product
    return None


_GPU_COUNT = ("resources", "accelerators", "gpu", "count")
_GPU_PRODUCT = ("resources", "accelerators", "gpu", "product")


def _type_of(path: tuple) -> tuple[tuple | None, tuple] | None:
    """(the manifest type the rule names, None for every type; the path under the type), or
    None when ``path`` is not under spec.types."""
    if len(path) < 4 or path[:2] != ("spec", "types"):
        return None
    if (
        path[2] == "Workers"
        and len(path) >= 5
        and path[4:]
        in (
            ("count",),
            ("resources", "cpus"),
            ("resources", "memory"),
            _GPU_COUNT,
            _GPU_PRODUCT,
        )
    ):
        return ("Workers", path[3]), path[4:]
    return (None if path[2] == "*" else (path[2],)), path[3:]


def _typed(path: tuple) -> tuple[tuple | None, tuple]:
    """:func:`_type_of` for a path the handler table already knows is under spec.types."""
    found = _type_of(path)
    assert found is not None, path
    return found


def _where(entry: PolicyRule) -> str:
    return f"policy {entry.policy.name}, rule {format_path(entry.pattern)} at {entry.location}"


def _number(value) -> float:
    return float(duration_seconds(value)) if isinstance(value, str) else float(value)


def _show(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------------------------------------
# per-pod checks


def _per_group(
    entry: PolicyRule, condition: str, message: str, type_name=None, kinds=PER_POD
) -> Check:
    """A check that ``condition`` (CEL over a group ``g``) holds for every group (of the
    manifest type ``type_name``, when given)."""

    def narrowed(kind: Kind) -> str | None:
        if type_name is None:
            return condition
        only = kind.type_filter(type_name)
        return None if only is None else f"!({only}) || ({condition})"

    def expression(kind: Kind) -> str:
        check = narrowed(kind)
        return "true" if check is None else f"{GROUPS}.all(g, {check})"

    def detail(kind: Kind) -> str:
        check = narrowed(kind)
        return (
            "''" if check is None else f"{GROUPS}.filter(g, !({check})).map(g, g.label).join(', ')"
        )

    usable = tuple(
        k.name
        for k in KINDS
        if k.name in kinds and (type_name is None or k.type_filter(type_name) is not None)
    )
    return Check(usable, expression, f"{message} ({_where(entry)})", detail)


def _every_image(check: Callable[[str], str]) -> str:
    """CEL over a group ``g``: ``check`` holds for every image its pods run."""
    return f"{images('g.spec', check)} && g.images.all(i, {check('i')})"


def _image(entry, keys, context, out) -> set[str]:
    held = set()
    rule = entry.rule
    if "pattern" in keys:
        if _NOT_RE2.search(rule.pattern):
            out.diagnostics.append(_not_re2(entry))
        else:
            pattern = lit(rule.pattern)
            out.checks.append(
                _per_group(
                    entry,
                    _every_image(lambda image: f"{image}.matches({pattern})"),
                    f"spec.image: an image does not match the pattern '{rule.pattern}'",
                )
            )
            held.add("pattern")
    if "options" in keys:
        options = [o for o in rule.options if isinstance(o, str)]
        allowed = "[" + ", ".join(lit(o) for o in options) + "]"
        # an allowed image pinned to a digest (compile --image-digest: repository@sha256:…)
        pinned = "[" + ", ".join(lit(_repository(o) + "@sha256:") for o in options) + "]"

        def one_of(image: str) -> str:
            return f"({image} in {allowed} || {pinned}.exists(p, {image}.startsWith(p)))"

        out.checks.append(
            _per_group(
                entry,
                _every_image(one_of),
                "spec.image: an image is not one of the options: " + ", ".join(options),
            )
        )
        held.add("options")
    if "required" in keys:
        out.checks.append(
            _per_group(
                entry,
                _every_image(lambda image: f"{image} != ''"),
                "spec.image: a container has no image",
            )
        )
        held.add("required")
    return held


def _repository(image: str) -> str:
    """``registry/name`` of an image reference, without its tag or digest."""
    rest = image.split("@", 1)[0]
    colon, slash = rest.rfind(":"), rest.rfind("/")
    return rest[:colon] if colon > slash else rest


def _not_re2(entry: PolicyRule) -> Diagnostic:
    return warning(
        "W130",
        f"pattern '{entry.rule.pattern}' uses syntax the API server's regular expressions (RE2) "
        "lack (lookaround, backreference, atomic group or \\Z); the admission policy leaves this "
        "rule out (loading the policy reports it as E413)",
        entry.location,
        format_path(entry.pattern),
    )


def _operator(entry, keys, context, out) -> set[str]:
    if "options" not in keys:
        return set()
    options = [o for o in entry.rule.options if isinstance(o, str)]
    refused = tuple(k.name for k in WORKLOADS if not set(k.operators) & set(options))
    if refused:
        message = (
            f"spec.operator: none of the allowed operators ({', '.join(options)}) "
            f"makes this kind ({_where(entry)})"
        )
        out.checks.append(Check(refused, lambda _kind: "false", message))
    out.left.append(
        Left(
            entry.policy.name,
            "spec.operator",
            ("options",),
            "held per kind only: "
            + ", ".join(f"{k.name} ({'/'.join(k.operators)})" for k in WORKLOADS)
            + "; the object does not say which operator of a kind wrote it",
        )
    )
    return {"options"}


def _amount(entry, keys, context, out) -> set[str]:
    type_name, rest = _typed(entry.pattern)
    name = {("resources", "cpus"): "cpus", ("resources", "memory"): "memoryGB"}.get(rest, "gpus")
    unit = {"cpus": "CPUs", "memoryGB": "GB of memory", "gpus": "GPUs"}[name]
    shown = format_path(entry.pattern)
    held = set()
    for key, compare, word in (
        ("max", ">", "above the maximum"),
        ("min", "<", "below the minimum"),
    ):
        if key not in keys:
            continue
        bound = _number(keys[key])
        if name == "gpus" and key == "min":
            # a pod without GPUs shows no GPU count: only pods that ask for GPUs are bound
            condition = f"g.gpus == 0.0 || !(g.gpus < {bound!r})"
        elif key == "min":
            # a pod the object does not write (KubeRay's default submitter) is the operator's
            condition = f"g.implicit || !(g.{name} < {bound!r})"
        else:
            condition = f"!(g.{name} {compare} {bound!r})"
        message = f"{shown}: a pod asks for {unit} {word} {_show(bound)}"
        out.checks.append(_per_group(entry, condition, message, type_name))
        held.add(key)
    return held


def _product_terms(label: str) -> tuple[str, str, str]:
    """CEL over a group ``g``: (the node selector names a product, every required node
    affinity term does, the list of those terms)."""
    affinity = "g.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    has_terms = (
        "(has(g.spec.affinity) && has(g.spec.affinity.nodeAffinity) && "
        "has(g.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution))"
    )
    terms = f"{affinity}.nodeSelectorTerms"
    in_selector = f"(has(g.spec.nodeSelector) && {label} in g.spec.nodeSelector)"
    in_affinity = (
        f"({has_terms} && size({terms}) > 0 && {terms}.all(t, has(t.matchExpressions) && "
        f"t.matchExpressions.exists(e, e.key == {label} && e.operator == 'In')))"
    )
    return in_selector, in_affinity, f"({has_terms} ? {terms} : [])"


def _products_all(label: str, allowed: Callable[[str], str]) -> str:
    """CEL over a group ``g``: every product it may run on, through its node selector or node
    affinity, is ``allowed``; an affinity term on the product label other than ``In`` (NotIn,
    Exists, Gt…) could pick any product, so it is refused."""
    in_selector, _, terms = _product_terms(label)
    selector = f"(!{in_selector} || {allowed(f'g.spec.nodeSelector[{label}]')})"
    affinity = (
        f"{terms}.all(t, !has(t.matchExpressions) || t.matchExpressions.all(e, "
        f"e.key != {label} || (e.operator == 'In' && has(e.values) && "
        f"e.values.all(v, {allowed('v')}))))"
    )
    return f"{selector} && {affinity}"


def _product(entry, keys, context, out) -> set[str]:
    type_name, _ = _typed(entry.pattern)
    label = lit(context.get("gpu_product_label", GPU_PRODUCT_LABEL))
    shown = format_path(entry.pattern)
    in_selector, in_affinity, _ = _product_terms(label)
    held = set()
    if "required" in keys:
        message = (
            f"{shown}: a pod with GPUs selects no GPU product "
            f"(node selector or node affinity {label})"
        )
        condition = f"g.gpus == 0.0 || {in_selector} || {in_affinity}"
        out.checks.append(_per_group(entry, condition, message, type_name))
        held.add("required")
    if "options" in keys:
        options = [o for o in entry.rule.options if isinstance(o, str)]
        listed = "[" + ", ".join(lit(o) for o in options) + "]"
        message = f"{shown}: a pod selects a GPU product that is not one of: {', '.join(options)}"
        condition = _products_all(label, lambda value: f"{value} in {listed}")
        out.checks.append(_per_group(entry, condition, message, type_name))
        held.add("options")
    if "pattern" in keys:
        if _NOT_RE2.search(entry.rule.pattern):
            out.diagnostics.append(_not_re2(entry))
        else:
            message = (
                f"{shown}: a pod selects a GPU product that does not match '{entry.rule.pattern}'"
            )
            pattern = lit(entry.rule.pattern)
            condition = _products_all(label, lambda value: f"{value}.matches({pattern})")
            out.checks.append(_per_group(entry, condition, message, type_name))
            held.add("pattern")
    return held


def _count(entry, keys, context, out) -> set[str]:
    type_name, _ = _typed(entry.pattern)
    shown = format_path(entry.pattern)
    held = set()
    for key, compare, word in (
        ("max", ">", "above the maximum"),
        ("min", "<", "below the minimum"),
    ):
        if key not in keys or not float(_number(keys[key])).is_integer():
            continue
        bound = int(_number(keys[key]))
        # a JobSet's replicated jobs and a RayJob's worker groups show `count` as replicas
        counted = 'g.type != "Head" && g.type != "Job"'
        condition = f"!({counted}) || !(g.replicas {compare} {bound})"
        message = f"{shown}: replicas {word} {bound}"
        out.checks.append(
            _per_group(entry, condition, message, type_name, kinds=("JobSet", "RayJob"))
        )
        held.add(key)
    if held:
        out.left.append(
            Left(
                entry.policy.name,
                shown,
                tuple(sorted(held)),
                "held on JobSet replicas and RayJob worker replicas; a batch Job folds count "
                "into completions",
            )
        )
    return held


# ---------------------------------------------------------------------------------------------
# labels


def _label_key(path: tuple) -> str:
    if path == ("spec", "queue"):
        return QUEUE_LABEL
    if path == ("spec", "priority"):
        return PRIORITY_LABEL
    return path[2]


def _label(entry, keys, context, out) -> set[str]:
    key = _label_key(entry.pattern)
    shown = format_path(entry.pattern)
    labels = "object.metadata.labels"
    present = f"(has({labels}) && {lit(key)} in {labels})"
    value = f"{labels}[{lit(key)}]"
    held = set()

    def add(check_key: str, expression: str, message: str) -> None:
        out.checks.append(Check(ALL, lambda _kind: expression, f"{message} ({_where(entry)})"))
        held.add(check_key)

    if "required" in keys:
        add("required", f"{present} && {value} != ''", f"{shown}: the label {key} is required")
    if "forbidden" in keys:
        derived = entry.pattern[:2] == ("spec", "labels") and key in COMPILER_LABELS
        if derived or key in context.get("defaulted_labels", ()):
            out.left.append(
                Left(
                    entry.policy.name,
                    shown,
                    ("forbidden",),
                    f"the compiler or a policy default writes the label {key} itself, so the "
                    "object cannot tell who set it",
                )
            )
            held.add("forbidden")
        else:
            add("forbidden", f"!{present}", f"{shown}: the label {key} is forbidden")
    if "options" in keys:
        options = [str(o) for o in entry.rule.options if not isinstance(o, (bool, dict, list))]
        pinned = [
            pinned_queue(o, worker)
            for o in options
            for worker in context.get("workers", ())
            if key == QUEUE_LABEL
        ]
        allowed = "[" + ", ".join(lit(o) for o in options + pinned) + "]"
        add(
            "options",
            f"!{present} || {value} in {allowed}",
            f"{shown}: the label {key} is not one of: {', '.join(options)}",
        )
    if "pattern" in keys:
        if _NOT_RE2.search(entry.rule.pattern):
            out.diagnostics.append(_not_re2(entry))
        else:
            add(
                "pattern",
                f"!{present} || {value}.matches({lit(entry.rule.pattern)})",
                f"{shown}: the label {key} does not match the pattern '{entry.rule.pattern}'",
            )
    return held


# ---------------------------------------------------------------------------------------------
# deadlines


def _deadline(entry, keys, context, out) -> set[str]:
    shown = format_path(entry.pattern)
    held = set()
    for key, compare, word in (
        ("max", ">", "above the maximum"),
        ("min", "<", "below the minimum"),
    ):
        if key in keys:
            seconds = int(_number(keys[key]))
            _deadline_check(
                entry,
                out,
                _bounded(compare, seconds),
                f"{shown}: activeDeadlineSeconds {word} {seconds}",
            )
            held.add(key)
    if "required" in keys:
        _deadline_check(
            entry,
            out,
            lambda spec: f"has({spec}.activeDeadlineSeconds)",
            f"{shown}: activeDeadlineSeconds is required",
        )
        held.add("required")
    return held


def _bounded(compare: str, seconds: int) -> Callable[[str], str]:
    def condition(spec: str) -> str:
        field = f"{spec}.activeDeadlineSeconds"
        return f"!has({field}) || !({field} {compare} {seconds})"

    return condition


def _deadline_check(entry, out, condition: Callable[[str], str], message: str) -> None:
    def expression(kind: Kind) -> str:
        parts = []
        for items, holder in kind.deadlines:
            if items:
                var = holder.split(".", 1)[0]
                parts.append(f"(!has({items}) || {items}.all({var}, {condition(holder)}))")
            else:
                parts.append(f"({condition(holder)})")
        return " && ".join(parts)

    out.checks.append(Check(ALL, expression, f"{message} ({_where(entry)})"))


# ---------------------------------------------------------------------------------------------
# retries (restartPolicy.backoffLimit, SPEC 2.8)

# batch/v1 JobSpec.backoffLimit when neither it nor backoffLimitPerIndex is set
JOB_DEFAULT_BACKOFF = 6


def _job_retries_at_most(spec: str, bound: int) -> str:
    """CEL: a Job spec retries the program's failures at most ``bound`` times: per index when
    backoffLimitPerIndex is set, else backoffLimit (6 when absent)."""
    per_index = f"{spec}.backoffLimitPerIndex"
    total = f"{spec}.backoffLimit"
    return (
        f"(has({per_index}) ? {per_index} <= {bound} : "
        f"(has({total}) ? {total} <= {bound} : {JOB_DEFAULT_BACKOFF} <= {bound}))"
    )


def _retries(entry, keys, context, out) -> set[str]:
    """``max`` of spec.restartPolicy.backoffLimit, read where each kind keeps it: a JobSet's
    failurePolicy.maxRestarts (0 when absent) and each child Job's limits, a RayJob's
    backoffLimit (no retry when absent), a Job's limits. ``min`` is left to ``compile``."""
    if "max" not in keys:
        return set()
    bound = int(_number(keys["max"]))
    shown = format_path(entry.pattern)

    def expression(kind: Kind) -> str:
        if kind.name == "JobSet":
            policy = "object.spec.failurePolicy"
            return (
                f"(!has({policy}) || !has({policy}.maxRestarts) || "
                f"{policy}.maxRestarts <= {bound}) && "
                "(!has(object.spec.replicatedJobs) || object.spec.replicatedJobs.all(r, "
                f"{_job_retries_at_most('r.template.spec', bound)}))"
            )
        if kind.name == "RayJob":
            return f"!has(object.spec.backoffLimit) || object.spec.backoffLimit <= {bound}"
        return _job_retries_at_most("object.spec", bound)

    out.checks.append(
        Check(
            ALL,
            expression,
            f"{shown}: retries above the maximum {bound} ({_where(entry)})",
        )
    )
    return {"max"}


# ---------------------------------------------------------------------------------------------
# limits: totals over every pod


def _limit(policy: LoadedPolicy, name: str, limit) -> Check:
    if name == "pods":
        total = f"({GROUPS}.map(g, double(g.pods)) + [0.0]).sum()"
    else:
        total = f"({GROUPS}.map(g, double(g.pods) * g.{name}) + [0.0]).sum()"
    where = policy.limit_location(name)
    message = (
        f"the workload's total {name} is above the limit {_show(float(limit))} "
        f"(policy {policy.name}, limits.{name} at {where})"
    )
    return Check(
        PER_POD,
        lambda _kind: f"!({total} > {float(limit)!r})",
        message,
        lambda _kind: f"'total ' + string({total})",
    )


__all__ = ["GPU", "LIMIT_NAMES", "Check", "Left", "Translation", "translate"]
