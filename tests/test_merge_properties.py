"""Properties of the merge (SPEC 3.2), over generated layers."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.resolve import Layer, resolve

LABELS = st.sampled_from(["a", "b", "c", "d", "e"])
TYPE_NAMES = st.sampled_from(["worker", "trainer", "evaluator"])
PORT = st.fixed_dictionaries(
    {"container": st.integers(30000, 32767), "external": st.integers(1, 32767)}
)
SECRET = st.fixed_dictionaries(
    {"secretName": st.sampled_from(["s1", "s2"]), "mountPath": st.sampled_from(["/a", "/b"])}
)
ENV_VALUE = st.one_of(
    st.text("xyz0123", max_size=4),
    st.fixed_dictionaries(
        {"secret": st.sampled_from(["k1", "k2"]), "key": st.sampled_from(["p", "q"])}
    ),
)
DELETED = st.just({"deleted": True})


def items(member, with_deletions=True):
    value = st.one_of(member, DELETED) if with_deletions else member
    return st.dictionaries(LABELS, value, max_size=4)


def resources():
    return st.fixed_dictionaries(
        {},
        optional={
            "cpus": st.integers(1, 64),
            "memory": st.integers(1, 256),
            "cpuLimitRatio": st.integers(1, 4),
            "shmSizeGB": st.integers(0, 8),
            "extraSelectors": items(st.sampled_from(["x", "y"]), with_deletions=False),
        },
    )


def job_type():
    return st.fixed_dictionaries(
        {},
        optional={
            "count": st.integers(1, 8),
            "completions": st.integers(1, 4),
            "parallelisms": st.integers(1, 4),
            "resources": resources(),
        },
    )


def spec(with_deletions=True, star=False):
    types = st.dictionaries(TYPE_NAMES, job_type(), max_size=3)
    if star:
        types = st.builds(lambda t, s: {**t, "*": s}, types, job_type())
    return st.fixed_dictionaries(
        {},
        optional={
            "operator": st.just("jobset"),
            "timeout": st.sampled_from(["1h", "1d", "90s"]),
            "ttlSecondsAfterFinished": st.integers(0, 10**6),
            "env": items(ENV_VALUE, with_deletions),
            "ports": items(PORT, with_deletions),
            "secrets": items(SECRET, with_deletions),
            "types": types,
        },
    )


def layer_data(with_deletions=True, star=False):
    return st.builds(lambda s: {"spec": s}, spec(with_deletions, star))


ROLES = ("global-policy", "project-policy", "base", "workload", "set")


def layers_of(datas):
    roles = ROLES[-len(datas) - 1 : -1] if len(datas) < len(ROLES) else ROLES
    return [
        Layer(role, f"layer {i}", data)
        for i, (role, data) in enumerate(zip(roles, datas, strict=False))
    ]


def leaves(data, path=()):
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from leaves(value, path + (key,))
    else:
        yield path, data


def at(data, path):
    for key in path:
        data = data[key]
    return data


@settings(max_examples=150, deadline=None)
@given(st.lists(layer_data(), min_size=1, max_size=4))
def test_resolution_is_deterministic_and_leaves_its_inputs_alone(datas):
    before = copy.deepcopy(datas)
    first = resolve(layers_of(datas))
    second = resolve(layers_of(copy.deepcopy(datas)))
    assert datas == before
    assert first.data == second.data
    assert list(first.origins.items()) == list(second.origins.items())
    assert first.events == second.events
    assert repr(first.data) == repr(second.data)  # the same order, too


@settings(max_examples=150, deadline=None)
@given(layer_data(), layer_data())
def test_a_replaced_item_keeps_nothing_of_the_lower_item(lower, upper):
    result = resolve(layers_of([lower, upper])).data["spec"]
    for collection in ("ports", "secrets", "env"):
        low = lower["spec"].get(collection, {})
        high = upper["spec"].get(collection, {})
        got = result.get(collection, {})
        for label, item in high.items():
            if item == {"deleted": True}:
                assert label not in got
            else:
                assert got[label] == item
        for label, item in low.items():
            if label not in high and item != {"deleted": True}:
                assert got[label] == item


@settings(max_examples=150, deadline=None)
@given(
    layer_data(with_deletions=False, star=True),
    layer_data(with_deletions=False, star=True),
    layer_data(with_deletions=False),
)
def test_a_value_the_workload_sets_is_never_changed_by_a_policy_default(
    global_defaults, project_defaults, workload
):
    layers = [
        Layer("global-policy", "g", global_defaults),
        Layer("project-policy", "p", project_defaults),
        Layer("workload", "the workload", workload),
    ]
    result = resolve(layers)
    for path, value in leaves(workload):
        if value == {}:
            continue
        assert at(result.data, path) == value
        assert result.layer_of(path).role == "workload"


BUILTIN_TYPE = {"count": 1, "completions": 1, "parallelisms": 1}
BUILTIN_RESOURCES = {"cpus": 1, "cpuLimitRatio": 2, "shmSizeGB": 0}


@settings(max_examples=150, deadline=None)
@given(layer_data(with_deletions=False))
def test_without_policy_or_base_the_result_is_the_manifest_with_built_in_defaults(workload):
    workload["spec"]["operator"] = "jobset"
    expected = copy.deepcopy(workload)
    types = expected["spec"].setdefault("types", {})
    for name, job in types.items():
        types[name] = {
            **BUILTIN_TYPE,
            **job,
            "resources": {**BUILTIN_RESOURCES, **job.get("resources", {})},
        }
    assert resolve([Layer("workload", "the workload", workload)]).data == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(TYPE_NAMES, min_size=1, max_size=3, unique=True), st.integers(0, 2), st.integers(1, 9)
)
def test_a_set_never_reorders_the_types(names, which, count):
    workload = {"spec": {"operator": "jobset", "types": {name: {"count": 1} for name in names}}}
    target = names[which % len(names)]
    edit = Layer("set", "--set", {"spec": {"types": {target: {"count": count}}}})
    result = resolve([Layer("workload", "the workload", workload), edit])
    assert list(result.data["spec"]["types"]) == names
    assert result.data["spec"]["types"][target]["count"] == count
