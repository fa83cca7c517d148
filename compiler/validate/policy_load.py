"""Policy documents: structure (the pydantic Policy model), well-formed rules (E412), and scopes
whose policies disagree on a default (E205). Pure: documents in, loaded policies and diagnostics out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic, Location, Related, error, has_errors
from ..model.records import Cluster, Limits, Policy, Quota, Rule, WorkerCluster
from ..model.scalars import duration_seconds
from ..model.validator import Invalid, Problem, validate
from ..parse import Document
from ..resolve.itemized import kind_of
from ..resolve.tree import format_path
from .clusters import check_clusters_of
from .fields import SCALAR_KINDS, FieldInfo, field_info, item_members, parse_path
from .pattern import compiled
from .quota import check_quota
from .structure import _suggest, fields_at

RULES = ("spec", "rules")
NOT_RE2 = "E413"
_RE2_COMPLAINT = "not a regular expression RE2 reads (RE2 is the API server's engine)"
DEFAULTS = ("spec", "defaults")


@dataclass(frozen=True)
class PolicyRule:
    """One rule of a policy, with the path it applies to."""

    pattern: tuple  # logical path segments, "*" for any one
    rule: Rule
    location: Location  # the rule's key in the policy file
    policy: LoadedPolicy
    key_path: tuple = ()  # where the rule stands in the policy document


@dataclass(frozen=True, eq=False)
class LoadedPolicy:
    """A policy document, checked and ready to apply."""

    name: str
    project: str | None
    document: Document
    defaults: dict | None
    limits: Limits | None
    rule_entries: tuple = ()  # (pattern, Rule, Location, key path in the document)
    quota: Quota | None = None
    priorities: dict | None = None
    cluster: Cluster | None = None  # spec.cluster (SPEC 2.6), global policies only
    clusters: tuple[WorkerCluster, ...] = ()  # spec.clusters (SPEC 2.9), global policies only

    @property
    def rules(self) -> list[PolicyRule]:
        return [
            PolicyRule(pattern, rule, where, self, key_path)
            for pattern, rule, where, key_path in self.rule_entries
        ]

    def limit_location(self, name: str) -> Location:
        return self.document.positions.nearest(("spec", "limits", name), prefer_key=True)

    @property
    def label(self) -> str:
        return f"policy {self.name}"


def load_policy(document) -> tuple[LoadedPolicy | None, list[Diagnostic]]:
    """One Policy document, validated; None when its structure (outside the rules) is broken.
    Each rule is validated on its own, so that one broken rule hides no other problem."""
    data = document.data
    rules = data.get("spec", {}).get("rules") if isinstance(data.get("spec"), dict) else None
    entries, problems = [], []
    if rules is not None and not isinstance(rules, dict):
        problems.append(
            error(
                "E102",
                "spec.rules must map field paths to rules",
                document.positions.nearest(RULES),
                "spec.rules",
            )
        )
    for text, value in rules.items() if isinstance(rules, dict) else ():
        entry, rule_problems = _load_rule(str(text), value, document)
        problems += rule_problems
        if entry is not None:
            entries.append(entry)
    try:
        policy = validate(Policy, _without_rules(data))
    except Invalid as exc:
        return None, _structure_problems(exc.problems, document, ()) + problems
    loaded = LoadedPolicy(
        policy.metadata.name,
        policy.metadata.project,
        document,
        policy.spec.defaults,
        policy.spec.limits,
        tuple(entries),
        policy.spec.quota,
        policy.spec.priorities,
        policy.spec.cluster,
        tuple(policy.spec.clusters or ()),
    )
    if policy.spec.cluster is not None and policy.metadata.project is not None:
        problems.append(
            error(
                "E315",
                "spec.cluster states facts of the whole cluster; only a global policy (no "
                "metadata.project) may set it",
                document.positions.nearest(("spec", "cluster"), prefer_key=True),
                "spec.cluster",
            )
        )
    return loaded, problems + check_quota(loaded) + check_clusters_of(loaded)


def _without_rules(data):
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("spec"), dict)
        or "rules" not in data["spec"]
    ):
        return data
    return {**data, "spec": {k: v for k, v in data["spec"].items() if k != "rules"}}


def _load_rule(text: str, value, document):
    at = RULES + (text,)
    where = document.positions.nearest(at, prefer_key=True)
    try:
        pattern = parse_path(text)
    except ValueError as exc:
        return None, [error("E412", f"rule path: {exc}", where, text)]
    try:
        rule = validate(Rule, value)
    except Invalid as exc:
        return None, _structure_problems(exc.problems, document, at)
    problems = check_rule(pattern, rule, document, at)
    # a pattern RE2 cannot read fails every compile (E413) yet stays a rule: compile admission
    # still names it (W130) when it leaves it out
    kept = not has_errors([p for p in problems if p.code != NOT_RE2])
    return ((pattern, rule, where, at) if kept else None), problems


_TYPE_HINTS = {
    "bool_type": "must be true or false (yes, no, on and off are strings in YAML 1.2)",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "string_type": "must be a string",
}


def _structure_problems(problems: list[Problem], document, prefix: tuple) -> list[Diagnostic]:
    by_loc: dict = {}
    for problem in problems:
        loc = prefix + tuple(p for p in problem["loc"] if not _is_union_tag(p))
        by_loc.setdefault(loc, []).append(
            problem
        )  # a union reports each branch: one message per field
    out = []
    for loc, problems in by_loc.items():
        kinds = {p["type"] for p in problems}
        first = dict(problems[0])
        if "float_type" in kinds:
            first["type"] = "float_type"
        out.append(_structure_problem(first, loc, document, in_rule=bool(prefix)))
    return out


def _is_union_tag(part) -> bool:
    return isinstance(part, str) and (
        part.startswith(("function-", "union[")) or part in ("int", "float", "str", "bool")
    )


def _structure_problem(problem, loc, document, in_rule: bool) -> Diagnostic:
    kind = problem["type"]
    shown = format_path(loc)
    if kind == "extra_forbidden":
        known = (
            list(Rule.field_names())
            if in_rule
            else fields_at(("model", "Policy"), tuple(problem["loc"][:-1]))
        )
        message = f"unknown {'rule ' if in_rule else ''}key {loc[-1]!r}" + _suggest(
            str(loc[-1]), known
        )
        return error(
            "E412" if in_rule else "E101",
            message,
            document.positions.nearest(loc, prefer_key=True),
            shown,
        )
    if kind == "missing":
        return error(
            "E103",
            f"{loc[-1]!r} is required",
            document.positions.nearest(loc[:-1], prefer_key=True),
            shown,
        )
    code = "E412" if in_rule else ("E102" if kind.endswith(("_type", "_parsing")) else "E104")
    value = problem.get("input")
    shown_value = "" if isinstance(value, (dict, list)) else f"{value!r}: "
    message = _TYPE_HINTS.get(kind, problem["msg"])
    if kind.startswith("literal_error"):
        message = f"must be one of {problem.get('ctx', {}).get('expected', '')}"
    return error(code, f"{shown_value}{message}", document.positions.nearest(loc), shown)


# ---------------------------------------------------------------------------------------------
# rule well-formedness (E412)


def check_rule(pattern: tuple, rule: Rule, document, at: tuple) -> list[Diagnostic]:
    info = field_info(pattern)
    shown = format_path(pattern)
    if not isinstance(info, FieldInfo):
        depth, known = info
        message = (
            f"not a manifest field: no {pattern[depth]!r} under {format_path(pattern[:depth]) or 'the top level'}"
            + _suggest(pattern[depth], known)
        )
        return [error("E412", message, document.positions.nearest(at, prefer_key=True), shown)]
    problems = []
    for key, complaint in _rule_complaints(pattern, rule, info):
        problems.append(
            error(
                NOT_RE2 if key == "pattern" and complaint.startswith(_RE2_COMPLAINT) else "E412",
                f"{key}: {complaint}",
                document.positions.nearest(at + (key,), prefer_key=True),
                shown,
            )
        )
    for member, member_rule in (rule.itemRules or {}).items() if kind_of(pattern) else ():
        problems += _check_item_rule(
            pattern, member, member_rule, document, at + ("itemRules", member)
        )
    return problems


def _check_item_rule(pattern, member, rule, document, at) -> list[Diagnostic]:
    members = item_members(pattern)
    if members is not None and members[1] and member not in members[0]:
        message = f"items of {format_path(pattern)} have no member {member!r}" + _suggest(
            member, list(members[0])
        )
        return [
            error(
                "E412",
                message,
                document.positions.nearest(at, prefer_key=True),
                format_path(pattern),
            )
        ]
    return check_rule(pattern + ("*", member), rule, document, at)


def _rule_complaints(pattern: tuple, rule: Rule, info: FieldInfo):
    kind = info.kind
    itemized = kind_of(pattern) is not None
    for key in ("min", "max"):
        bound = getattr(rule, key)
        if bound is not None:
            complaint = _bound_complaint(bound, kind)
            if complaint:
                yield key, complaint
    if (
        rule.min is not None
        and rule.max is not None
        and _both_comparable(rule.min, rule.max)
        and _number(rule.min) > _number(rule.max)
    ):
        yield "min", f"the minimum {rule.min} is above the maximum {rule.max}"
    if rule.step is not None and kind not in ("integer", "number", "any"):
        yield "step", f"step applies to numbers; {format_path(pattern)} is {_a(kind)} field"
    if rule.options is not None:
        if kind not in SCALAR_KINDS + ("any",):
            yield (
                "options",
                f"options apply to single values; {format_path(pattern)} is {_a(kind)} field",
            )
        elif any(isinstance(option, (dict, list)) for option in rule.options):
            yield "options", "every option must be a single value"
    if rule.pattern is not None:
        if kind not in ("string", "duration", "any"):
            yield (
                "pattern",
                f"pattern applies to strings; {format_path(pattern)} is {_a(kind)} field",
            )
        else:
            try:
                compiled(rule.pattern)
            except ValueError as exc:
                yield "pattern", f"{_RE2_COMPLAINT}: {rule.pattern!r} ({exc})"
    if rule.canAdd is not None and not itemized:
        yield "canAdd", f"canAdd applies to itemized collections; {format_path(pattern)} is not one"
    if rule.canRemove is not None and kind_of(pattern[:-1]) is None:
        yield (
            "canRemove",
            f"canRemove applies to one item of an itemized collection; {format_path(pattern[:-1])} is not one",
        )
    if rule.itemRules is not None and not itemized:
        yield (
            "itemRules",
            f"itemRules apply to itemized collections; {format_path(pattern)} is not one",
        )
    if rule.required and rule.forbidden:
        yield "forbidden", "a field cannot be both required and forbidden"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _bound_complaint(bound, kind: str) -> str | None:
    if kind not in ("integer", "number", "duration", "any"):
        return f"min and max apply to numbers and durations; this is {_a(kind)} field"
    if isinstance(bound, str):
        if kind == "number":
            return f"{bound!r} is not a number"
        try:
            duration_seconds(bound)
        except ValueError as exc:
            return str(exc)
    return None


def _number(value) -> float:
    return float(duration_seconds(value)) if isinstance(value, str) else float(value)


def _both_comparable(a, b) -> bool:
    try:
        _number(a), _number(b)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# scopes: two policies of one scope that disagree on a default (E205)


def check_scopes(policies: list[LoadedPolicy]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    scopes: dict = {}
    for policy in policies:
        scopes.setdefault(policy.project, []).append(policy)
    for members in scopes.values():
        for index, later in enumerate(members):
            for earlier in members[:index]:
                out += _disagreements(earlier, later)
    return out


def _disagreements(earlier: LoadedPolicy, later: LoadedPolicy) -> list[Diagnostic]:
    first = flatten_defaults(earlier.defaults)
    out = []
    for logical, (data_path, value) in flatten_defaults(later.defaults).items():
        clash = _clash(first, logical, value)
        if clash is None:
            continue
        _, (other_path, other_value) = clash
        where = later.document.positions.nearest(DEFAULTS + data_path)
        other = earlier.document.positions.nearest(DEFAULTS + other_path)
        message = (
            f"policies {earlier.name} and {later.name} (scope {_scope(later)}) give different defaults: "
            f"{_show(other_value)} and {_show(value)}"
        )
        out.append(
            error(
                "E205",
                message,
                where,
                format_path(logical),
                [Related(f"policy {earlier.name}", other)],
            )
        )
    return out


def _clash(flat: dict, logical: tuple, value):
    if logical in flat:
        return (logical, flat[logical]) if flat[logical][1] != value else None
    for other, entry in flat.items():
        shorter, longer = sorted((other, logical), key=len)
        if shorter and longer[: len(shorter)] == shorter:
            return other, entry
    return None


def flatten_defaults(data, logical: tuple = (), data_path: tuple = ()) -> dict:
    """Leaf values of a defaults fragment by logical path (list items by label) -> (data path, value).
    No defaults (a rules-only policy) and empty mappings give no leaves: they set nothing."""
    if (data is None and not logical) or (isinstance(data, dict) and not data):
        return {}
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            out.update(flatten_defaults(value, logical + (str(key),), data_path + (key,)))
        return out
    kind = kind_of(logical)
    if isinstance(data, list) and kind and kind[1]:
        out = {}
        for index, item in enumerate(data):
            label = item.get(kind[1]) if isinstance(item, dict) else None
            out.update(
                flatten_defaults(
                    item,
                    logical + (str(label if label is not None else index),),
                    data_path + (index,),
                )
            )
        return out
    return {logical: (data_path, data)}


def _scope(policy: LoadedPolicy) -> str:
    return f"project {policy.project}" if policy.project else "global"


def _show(value) -> str:
    if isinstance(value, str):
        return repr(value)
    return str(getattr(value, "text", None) or value)
