"""Generated policies and workloads, malformed ones included: a diagnostic every time, never a traceback."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_support import WORKLOAD, policy, run, with_spec
from test_policy import KUBERAY

PATHS = st.sampled_from(
    [
        "spec",
        "spec.image",
        "spec.timeout",
        "spec.types",
        "spec.types.*",
        "spec.types.*.count",
        "spec.types.worker.resources.cpus",
        "spec.types.*.resources.accelerators.gpu.count",
        "spec.env",
        "spec.env.*",
        "spec.env.A",
        "spec.ports",
        "spec.ports.*.container",
        "spec.types.Workers",
        "spec.types.Workers.*.count",
        'spec.labels["a.b/c"]',
        "spec.storage.attachExistingPVCs",
        "spec.types.*.resources.extraTolerations",
        "spec.nothing",
        "spec.types.*.resources.cpus.deeper",
        "*",
        "*.*",
    ]
)
SCALARS = st.one_of(
    st.integers(-5, 100),
    st.floats(-1, 100, allow_nan=False),
    st.sampled_from(["1d", "x", "", "7d", "[", "yes"]),
    st.booleans(),
    st.none(),
)
RULE = st.dictionaries(
    st.sampled_from(
        [
            "required",
            "min",
            "max",
            "step",
            "options",
            "pattern",
            "canEdit",
            "forbidden",
            "canAdd",
            "canRemove",
            "itemRules",
            "maxx",
        ]
    ),
    st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.just({"container": {"max": 1}})),
    max_size=4,
)
DEFAULTS = st.sampled_from(
    [
        "",
        "spec: {timeout: 1d}",
        "spec: {env: {A: '1', B: {secret: s, key: k}}}",
        "spec: {ports: {p: {container: 30000, external: 1}}}",
        "spec: {types: {'*': {resources: {cpuLimitRatio: 1}}}}",
        "spec: 3",
        "spec: {types: [1, 2]}",
        "spec: {env: {A: {deleted: true}}}",
    ]
)
WORKLOADS = st.sampled_from(
    [
        WORKLOAD,
        KUBERAY,
        with_spec("env: {A: x, B: {deleted: true}}"),
        with_spec("ports: {p: {container: 1}}"),
        "kind: AIchorManifest\nproject: team-a\nspec: {operator: jobset, types: {w: 3}}\n",
        "kind: AIchorManifest\nproject: team-a\nspec: {operator: kuberay, types: {Workers: [{name: g}, 3]}}\n",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    WORKLOADS,
    st.dictionaries(PATHS, RULE, max_size=4),
    DEFAULTS,
    st.dictionaries(
        st.sampled_from(["pods", "gpus", "cpus", "memoryGB", "nodes"]), SCALARS, max_size=3
    ),
)
def test_no_traceback(workload, rules, defaults, limits):
    rules_text = "\n".join(
        f"{json.dumps(path)}: {json.dumps(rule)}" for path, rule in rules.items()
    )
    limits_text = "\n".join(f"{key}: {json.dumps(value)}" for key, value in limits.items())
    outcome = run(
        workload, policies=[policy(rules=rules_text, defaults=defaults, limits=limits_text)]
    )
    for diagnostic in outcome.diagnostics:
        assert diagnostic.code and diagnostic.location.line >= 1
