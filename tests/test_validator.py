"""The plain validator (compiler/model/validator.py, over the generated compiler/model/records.py)
gives exactly pydantic's answers: the same values, of the same types, or the same problems in the
same order. pydantic, validating the models the shapes were generated from, is the oracle; the
inputs come from the real corpus, from every test fixture, and from hypothesis, built from a
vocabulary of field names and awkward values that shares nothing with the generated shapes."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from compiler.model import manifest as manifest_models
from compiler.model import policy as policy_models
from compiler.model import records
from compiler.model.validator import Invalid, validate
from compiler.parse import YamlFloat, YamlInt, load_documents

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# (name, pydantic type, what the plain validator is given)
TARGETS = [
    ("Manifest", manifest_models.Manifest, records.Manifest),
    ("Policy", policy_models.Policy, records.Policy),
    ("Rule", policy_models.Rule, records.Rule),
    *[
        (f"types:{operator}", annotation, records.TYPES_SHAPES[operator])
        for operator, annotation in manifest_models.TYPES_MODEL.items()
    ],
]
_ADAPTERS: dict[str, TypeAdapter] = {}


def pydantic_answer(name: str, oracle, data):
    if name not in _ADAPTERS:
        _ADAPTERS[name] = TypeAdapter(oracle)
    try:
        return ("ok", typed(_ADAPTERS[name].validate_python(data)))
    except ValidationError as exc:
        return ("invalid", [normalized(p) for p in exc.errors(include_url=False)])


def plain_answer(target, data):
    try:
        return ("ok", typed(validate(target, data)))
    except Invalid as exc:
        return ("invalid", [normalized(p) for p in exc.problems])


def typed(value):
    """A value with the type of every part in it, so that 3 and 3.0 (and str and YamlInt) differ."""
    if isinstance(value, (BaseModel, records.Record)):
        names = (
            type(value).model_fields if isinstance(value, BaseModel) else type(value).field_names()
        )
        return (type(value).__name__, {name: typed(getattr(value, name)) for name in names})
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return (type(value).__name__, "nan")
    return (type(value).__name__, value)


def normalized(problem: dict) -> dict:
    out = {key: problem[key] for key in ("type", "loc", "msg") if key in problem}
    out["input"] = typed(problem.get("input"))
    ctx = problem.get("ctx")
    if ctx is not None:
        out["ctx"] = {key: str(value) if key == "error" else value for key, value in ctx.items()}
    return out


def assert_same(name, oracle, target, data):
    expected = pydantic_answer(name, oracle, data)
    assert plain_answer(target, data) == expected, data


# ---------------------------------------------------------------------------------------------
# real documents: the corpus and every YAML file the tests and examples hold


def _documents():
    roots = [SHARED / "corpus" / "aichor", REPO / "examples", REPO / "tests"]
    for root in roots:
        for path in sorted(root.rglob("*.y*ml")):
            if path.suffix not in (".yaml", ".yml") or ".venv" in path.parts:
                continue
            try:
                documents, _ = load_documents(path.read_bytes(), str(path))
            except Exception:  # a hostile fixture the parser refuses is the parser's test
                continue
            for document in documents:
                if isinstance(document.data, dict):
                    yield path, document.data


def _target_for(data: dict):
    if data.get("kind") == "Policy":
        return TARGETS[1]
    return TARGETS[0]


def test_real_documents_get_the_same_answers():
    seen = 0
    for _, data in _documents():
        name, oracle, target = _target_for(data)
        assert_same(name, oracle, target, data)
        spec = data.get("spec")
        if isinstance(spec, dict) and spec.get("operator") in manifest_models.TYPES_MODEL:
            operator = spec["operator"]
            assert_same(
                f"types:{operator}",
                manifest_models.TYPES_MODEL[operator],
                records.TYPES_SHAPES[operator],
                spec.get("types"),
            )
        rules = spec.get("rules") if isinstance(spec, dict) else None
        for rule in rules.values() if isinstance(rules, dict) else ():
            assert_same(*TARGETS[2], rule)
        seen += 1
    assert seen > 500  # the corpus is there


# ---------------------------------------------------------------------------------------------
# generated inputs


def _vocabulary() -> list[str]:
    names = set()
    for module in (manifest_models, policy_models):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                names.update(value.model_fields)
    return sorted(names) + ["Worker", "worker", "Head", "Workers", "Job", "extra", "deleted", "*"]


VOCABULARY = _vocabulary()


def _float_with_text(text: str) -> YamlFloat:
    number = YamlFloat(float(text))
    number.text = text
    return number


SCALARS = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            1,
            -1,
            2,
            8,
            65535,
            65536,
            2**31 - 1,
            2**31,
            2**63 - 1,
            2**63,
            10**400,
            0.0,
            -0.0,
            0.5,
            1.0,
            1.5,
            -2.5,
            float("inf"),
            float("-inf"),
            float("nan"),
            1e308,
            "",
            " ",
            "8",
            "1.10",
            "gpu",
            "Equal",
            "Exists",
            "NoSchedule",
            "Submit",
            "Template",
            "AIchorManifest",
            "jobset",
            "kuberay",
            "ray",
            "pytorch",
            "Policy",
            "manifest-compiler/v1",
            "StrictFIFO",
            "BestEffortFIFO",
            "ReadWriteMany",
            "90s",
            "30m",
            "1h30m",
            "0s",
            "7d",
            "1.5h",
            "x",
            "99999999999999999999d",
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=6),
    st.integers(min_value=-3, max_value=10**12).map(lambda n: YamlInt(n)),
    st.sampled_from(["1.10", "2.50", "0.5", "1e3"]).map(lambda text: _float_with_text(text)),
)


KEYS = st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=4), st.integers(-2, 2))

VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=6),
    ),
    max_leaves=30,
)


def _mutated(data, rng: random.Random, value):
    """``data`` with one place replaced by ``value``, deleted, or given an extra key."""
    if not isinstance(data, (dict, list)) or not data or rng.random() < 0.25:
        return value
    if isinstance(data, dict):
        key = rng.choice(list(data))
        copy = dict(data)
        roll = rng.random()
        if roll < 0.15:
            del copy[key]
        elif roll < 0.25:
            copy[rng.choice(VOCABULARY)] = value
        else:
            copy[key] = _mutated(copy[key], rng, value)
        return copy
    index = rng.randrange(len(data))
    copy = list(data)
    copy[index] = _mutated(copy[index], rng, value)
    return copy


@pytest.fixture(scope="module")
def real_documents():
    return [data for _, data in _documents()]


@settings(
    max_examples=int(os.environ.get("VALIDATOR_EXAMPLES", 400)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=VALUES, which=st.integers(0, len(TARGETS) - 1))
def test_generated_values_get_the_same_answers(data, which):
    assert_same(*TARGETS[which], data)


@settings(
    max_examples=int(os.environ.get("VALIDATOR_EXAMPLES", 600)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32), value=VALUES, steps=st.integers(1, 4))
def test_mutated_real_documents_get_the_same_answers(real_documents, seed, value, steps):
    rng = random.Random(seed)
    data = rng.choice(real_documents)
    for _ in range(steps):
        data = _mutated(data, rng, value)
    if not isinstance(data, dict):
        data = {"spec": data}
    name, oracle, target = _target_for(data)
    assert_same(name, oracle, target, data)
    spec = data.get("spec")
    if isinstance(spec, dict) and "types" in spec:
        operator = rng.choice(list(manifest_models.TYPES_MODEL))
        assert_same(
            f"types:{operator}",
            manifest_models.TYPES_MODEL[operator],
            records.TYPES_SHAPES[operator],
            spec["types"],
        )
