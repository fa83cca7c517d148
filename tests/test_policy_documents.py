"""Policy documents are validated themselves: structure with positions, and well-formed rules (E412)."""

from __future__ import annotations

from example_support import run_cli
from policy_support import policy, run


def test_every_malformed_rule_is_reported_with_its_position():
    result = run_cli(
        "check",
        "-p",
        "tests/data/policy/malformed-policy.yaml",
        "examples/jobset-heavy-and-workers.yaml",
    )
    assert result.exit_code == 1
    found = [
        (line.split(":")[1], line.split(" ")[1])
        for line in result.stdout.splitlines()
        if line.startswith("tests/data/policy/malformed-policy.yaml")
    ]
    assert found == [
        ("8", "error[E412]"),  # min on a string field
        ("9", "error[E412]"),  # unknown rule key maxx
        ("10", "error[E412]"),  # no field cpu
        ("11", "error[E412]"),  # max: soon
        ("12", "error[E413]"),  # a broken regular expression (RE2 cannot read it)
        ("13", "error[E412]"),  # min above max
        ("14", "error[E412]"),  # spec.image.tag
        ("15", "error[E412]"),  # canAdd on a plain field
        ("16", "error[E412]"),  # itemRules member containr
        ("17", "error[E412]"),  # options on a map
        ("18", "error[E412]"),  # required: yes
        ("20", "error[E102]"),  # gpus: lots
        ("21", "error[E101]"),  # nodes
    ]
    assert "unknown rule key 'maxx'; did you mean 'max'?" in result.stdout
    assert "no 'cpu' under spec.types.*.resources; did you mean 'cpus'?" in result.stdout
    assert (
        "items of spec.ports have no member 'containr'; did you mean 'container'?" in result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr


def codes_of(rules: str = "", **parts) -> list[str]:
    return run(policies=[policy(rules=rules, **parts)]).codes


def test_rule_kinds_must_fit_the_field():
    assert codes_of("spec.image: {step: 1}") == ["E412"]
    assert codes_of("spec.types.*.count: {pattern: '^1$'}") == ["E412"]
    assert (
        codes_of("spec.types.*.count: {max: 1d}") == []
    )  # an integer field takes a duration in seconds
    assert codes_of("spec.types.*.resources.cpus: {max: 1d}") == ["E412"]
    assert codes_of("spec.timeout: {step: 60}") == ["E412"]
    assert codes_of("spec.env.A: {canRemove: false}") == []
    assert codes_of("spec.timeout: {canRemove: false}") == ["E412"]
    assert codes_of("spec.timeout: {itemRules: {a: {required: true}}}") == ["E412"]
    assert codes_of("spec.queue: {required: true, forbidden: true}") == ["E412"]
    assert codes_of("spec.operator: {options: [[jobset]]}") == ["E412"]
    assert codes_of("spec.types.*.count: {step: 0}") == ["E412"]
    assert codes_of("spec.types.*.count: {options: []}") == ["E412"]


def test_rule_paths_must_be_readable():
    assert codes_of("'spec.labels[\"open': {required: true}") == ["E412"]
    assert codes_of("'spec..timeout': {required: true}") == ["E412"]


def test_runtime_env_is_free_form():
    assert codes_of("spec.runtimeEnv.pip: {required: true}") == ["E406"]


def test_policy_structure_problems():
    broken = "apiVersion: manifest-compiler/v2\nkind: Policy\nmetadata: {project: team-a}\nspec: {rules: 3, defaults: []}\n"
    outcome = run(policies=[broken])
    assert outcome.codes == ["E102", "E102", "E103", "E104"]


def test_a_policy_with_broken_structure_does_not_crash_the_workload():
    outcome = run(
        policies=[
            "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: x}\nspec: {limits: {pods: -1}}\n"
        ]
    )
    assert outcome.codes == ["E104"]
    assert outcome.units[0].objects  # the broken policy is not applied; its error is reported


def test_limits_must_be_numbers():
    assert codes_of(limits="pods: 1.5") == ["E102"]
    assert codes_of(limits="cpus: 1.5\nmemoryGB: 100\ngpus: 0") == ["E411"]
