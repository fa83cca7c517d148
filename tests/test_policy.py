"""Policy rules (SPEC 2.4) on the merged manifest: every rule passing and failing, the message
format of SPEC 4, scopes, and every way around a policy rejected."""

from __future__ import annotations

import textwrap

import pytest
from example_support import run_cli
from policy_support import WORKLOAD, policy, run, with_spec

TEMPLATE = """\
kind: AIchorManifest
usage: Template
name: team-a
project: team-a
spec:
  operator: jobset
  image: registry.example.com/team-a/trainer:1.0
  command: python train.py
  types:
    worker:
      resources: {cpus: 8, memory: 32}
"""


def test_the_spec_example_line_exactly(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "team").mkdir()
    (tmp_path / "policies" / "team-a.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: manifest-compiler/v1
        kind: Policy
        metadata:
          name: team-a-limits
          project: team-a
        spec:
          defaults:
            spec:
              timeout: 1d
          rules:
            spec.types.*.count: {min: 1, max: 64}
            spec.types.*.resources.cpus: {min: 0.5, max: 96, step: 0.5}
        """)
    )
    (tmp_path / "team" / "train.yaml").write_text(
        textwrap.dedent("""\
        kind: AIchorManifest
        apiVersion: 0.2.3
        name: train
        project: team-a
        spec:
          operator: jobset
          image: trainer:1
          command: python train.py
          types:
            worker:
              count: 2
              resources:
                memory: 64
                cpus: 128
        """)
    )
    result = run_cli("check", "-p", "policies/team-a.yaml", "team/train.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stdout == (
        "team/train.yaml:14:15: error[E401] spec.types.worker.resources.cpus: 128 is above the maximum 96 "
        "(policy team-a-limits at policies/team-a.yaml:12:5; value set by the workload)\n"
    )


# ---------------------------------------------------------------------------------------------
# each rule, passing and failing

RULE_CASES = [
    # (rule, spec addition or "" , expected error code or None)
    ("spec.timeout: {required: true}", "timeout: 2h", None),
    ("spec.timeout: {required: true}", "", "E406"),
    ("spec.types.*.resources.cpus: {max: 96}", "", None),
    ("spec.types.*.resources.cpus: {max: 4}", "", "E401"),
    ("spec.types.*.resources.cpus: {min: 8}", "", None),
    ("spec.types.*.resources.cpus: {min: 16}", "", "E402"),
    ("spec.types.*.resources.cpus: {min: 0.5, step: 0.5}", "", None),
    ("spec.types.*.resources.cpus: {min: 1, step: 2}", "", "E403"),
    ("spec.operator: {options: [jobset, pytorch]}", "", None),
    ("spec.operator: {options: [pytorch, kuberay]}", "", "E404"),
    ("spec.image: {pattern: '^registry\\.example\\.com/.+'}", "", None),
    ("spec.image: {pattern: '^docker\\.io/'}", "", "E405"),
    ("spec.image: {pattern: 'registry'}", "", None),  # a search, as JSON Schema's pattern
    ("spec.image: {pattern: '^registry\\.example\\.com/'}", "", None),
    ("spec.image: {pattern: 'docker\\.io/'}", "", "E405"),
    ("spec.image: {pattern: '^team-a'}", "", "E405"),  # anchored: the start must match
    ("spec.queue: {forbidden: true}", "", None),
    ("spec.queue: {forbidden: true}", "queue: gpu", "E408"),
    ("spec.env: {canAdd: false}", "", None),
    ("spec.env: {canAdd: false}", "env: {EXTRA: x}", "E409"),
    (
        "spec.ports: {itemRules: {container: {min: 30000, max: 32767}}}",
        "ports: {web: {container: 30080, external: 80}}",
        None,
    ),
    (
        "spec.ports: {itemRules: {container: {min: 30000, max: 32767}}}",
        "ports: {web: {container: 80, external: 80}}",
        "E402",
    ),
    (
        "spec.ports: {itemRules: {external: {required: true}}}",
        "ports: {web: {container: 30080, external: 80}}",
        None,
    ),
    ("spec.timeout: {max: 7d}", "timeout: 6h", None),
    ("spec.timeout: {max: 7d}", "timeout: 7d", None),
    ("spec.timeout: {max: 7d}", "timeout: 8d", "E401"),
    ("spec.timeout: {max: 7d}", "timeout: 169h", "E401"),
    ("spec.timeout: {min: 1h}", "timeout: 30m", "E402"),
    ("spec.activeDeadlineSeconds: {max: 1d}", "activeDeadlineSeconds: 86400", None),
    ("spec.activeDeadlineSeconds: {max: 1d}", "activeDeadlineSeconds: 86401", "E401"),
    (
        'spec.labels["app.kubernetes.io/team"]: {options: [team-a]}',
        'labels: {"app.kubernetes.io/team": team-a}',
        None,
    ),
    (
        'spec.labels["app.kubernetes.io/team"]: {options: [team-a]}',
        'labels: {"app.kubernetes.io/team": team-b}',
        "E404",
    ),
    ('spec.labels["app.kubernetes.io/team"]: {required: true}', "", "E406"),
]


@pytest.mark.parametrize("rule, extra, expected", RULE_CASES)
def test_each_rule(rule, extra, expected):
    outcome = run(with_spec(extra) if extra else WORKLOAD, policies=[policy(rules=rule)])
    assert outcome.codes == ([expected] if expected else []), outcome.lines


CAN_EDIT_POLICY = policy(
    defaults="spec: {env: {HTTP_PROXY: 'http://proxy:3128'}}",
    rules="spec.env.HTTP_PROXY: {canEdit: false}",
)


def test_can_edit_false_keeps_the_default():
    outcome = run(policies=[CAN_EDIT_POLICY])
    assert outcome.codes == []
    assert outcome.data["spec"]["env"]["HTTP_PROXY"] == "http://proxy:3128"


def test_can_edit_false_allows_restating_the_same_value():
    outcome = run(with_spec("env: {HTTP_PROXY: 'http://proxy:3128'}"), policies=[CAN_EDIT_POLICY])
    assert outcome.codes == []


def test_can_edit_false_rejects_the_workload_changing_it():
    outcome = run(with_spec("env: {HTTP_PROXY: 'http://mine:1'}"), policies=[CAN_EDIT_POLICY])
    found = outcome.only("E407")
    assert found.path == "spec.env.HTTP_PROXY"
    assert (found.location.file, found.location.line) == ("workload.yaml", 15)
    assert "value set by the workload" in outcome.lines[0]


def test_can_edit_false_without_a_default_means_not_set():
    outcome = run(with_spec("queue: mine"), policies=[policy(rules="spec.queue: {canEdit: false}")])
    assert outcome.codes == ["E407"]


def test_required_with_a_policy_default_is_satisfied():
    outcome = run(
        policies=[policy(defaults="spec: {timeout: 1d}", rules="spec.timeout: {required: true}")]
    )
    assert outcome.codes == []


def test_forbidden_does_not_apply_to_the_policy_own_default():
    outcome = run(
        policies=[policy(defaults="spec: {queue: team-a}", rules="spec.queue: {forbidden: true}")]
    )
    assert outcome.codes == []


def test_can_add_false_allows_the_policy_labels():
    rules = "spec.env: {canAdd: false}"
    outcome = run(
        with_spec("env: {HF_HOME: /mine}"),
        policies=[policy(defaults="spec: {env: {HF_HOME: /cache}}", rules=rules)],
    )
    assert outcome.codes == []


def test_can_remove_false_allows_keeping_and_overriding():
    defaults = "spec: {secrets: {registry: {secretName: reg, mountPath: /reg}}}"
    rules = "spec.secrets.registry: {canRemove: false}"
    outcome = run(
        with_spec("secrets: {registry: {secretName: mine, mountPath: /mine}}"),
        policies=[policy(defaults=defaults, rules=rules)],
    )
    assert outcome.codes == []


def test_can_remove_false_rejects_the_deletion():
    defaults = "spec: {secrets: {registry: {secretName: reg, mountPath: /reg}}}"
    rules = "spec.secrets.registry: {canRemove: false}"
    outcome = run(
        with_spec("secrets: {registry: {deleted: true}}"),
        policies=[policy(defaults=defaults, rules=rules)],
    )
    found = outcome.only("E410")
    assert found.path == "spec.secrets.registry"
    assert found.location.file == "workload.yaml"
    assert "deleted by the workload" in outcome.lines[0]


def test_can_remove_on_a_wildcard_item():
    defaults = "spec: {env: {A: '1', B: '2'}}"
    outcome = run(
        with_spec("env: {B: {deleted: true}}"),
        policies=[policy(defaults=defaults, rules="spec.env.*: {canRemove: false}")],
    )
    assert outcome.codes == ["E410"]


def test_deleting_an_item_nobody_defined_is_not_a_removal():
    outcome = run(
        with_spec("env: {B: {deleted: true}}"),
        policies=[policy(rules="spec.env.*: {canRemove: false}")],
    )
    assert outcome.codes == []


def test_every_violation_is_reported_at_once():
    rules = """\
        spec.operator: {options: [pytorch]}
        spec.image: {pattern: '^docker\\.io/.+'}
        spec.types.*.count: {max: 1}
        spec.types.*.resources.cpus: {max: 4}
        spec.timeout: {required: true}
    """
    outcome = run(policies=[policy(rules=rules)])
    assert outcome.codes == ["E401", "E401", "E404", "E405", "E406"]


# ---------------------------------------------------------------------------------------------
# list items by label; kuberay groups; tolerations


def test_rules_address_list_items_by_label():
    extra = """\
        storage:
          attachExistingPVCs:
          - {name: datasets, mountPoint: /data}
          - {name: scratch, mountPoint: /scratch}
    """
    defaults = "spec: {storage: {attachExistingPVCs: [{name: datasets, mountPoint: /data}]}}"
    rules = """\
        spec.storage.attachExistingPVCs: {canAdd: false}
        spec.storage.attachExistingPVCs.*.mountPoint: {pattern: '/data'}
    """
    outcome = run(with_spec(extra), policies=[policy(defaults=defaults, rules=rules)])
    assert sorted((d.code, d.path) for d in outcome.diagnostics) == [
        ("E405", "spec.storage.attachExistingPVCs.scratch.mountPoint"),
        ("E409", "spec.storage.attachExistingPVCs"),
    ]


KUBERAY = """\
kind: AIchorManifest
apiVersion: 0.2.2
name: sweep
project: team-a
spec:
  operator: kuberay
  image: ray:2
  command: python tune.py
  types:
    Head:
      resources: {cpus: 2, ramRatio: 2}
    Workers:
    - name: cpu
      count: 4
      resources: {cpus: 8, ramRatio: 2}
    - name: gpu
      count: 2
      resources:
        cpus: 8
        ramRatio: 2
        accelerators: {gpu: {count: 4}}
"""


def test_star_under_types_covers_kuberay_worker_groups():
    outcome = run(KUBERAY, policies=[policy(rules="spec.types.*.resources.cpus: {max: 4}")])
    assert sorted(d.path for d in outcome.diagnostics) == [
        "spec.types.Workers.cpu.resources.cpus",
        "spec.types.Workers.gpu.resources.cpus",
    ]


def test_worker_group_rules_by_group_name():
    outcome = run(KUBERAY, policies=[policy(rules="spec.types.Workers.gpu.count: {max: 1}")])
    assert [(d.code, d.path) for d in outcome.diagnostics] == [
        ("E401", "spec.types.Workers.gpu.count")
    ]


def test_kuberay_limits_count_the_head_and_every_worker():
    # and KubeRay's default submitter pod (issue 20), written out or not
    outcome = run(KUBERAY, policies=[policy(limits="pods: 6\ngpus: 7\ncpus: 51")])
    assert sorted(d.message.split(" (")[0] for d in outcome.diagnostics) == [
        "the workload's total gpus 8",
        "the workload's total pods 8",
    ]
    outcome = run(KUBERAY, policies=[policy(limits="pods: 8\ngpus: 8\ncpus: 50.5")])
    assert outcome.codes == []


def test_toleration_item_rules():
    extra = """\
        types:
          worker:
            resources:
              extraTolerations:
              - {key: gpu, operator: Exists, effect: NoSchedule}
    """
    workload = WORKLOAD.replace(
        "  types:\n    worker:\n      count: 2\n      resources:\n        cpus: 8\n        memory: 32\n",
        "",
    )
    workload = with_spec(extra, workload).replace(
        "resources:\n", "resources:\n        cpus: 8\n        memory: 32\n", 1
    )
    rules = "spec.types.*.resources.extraTolerations: {itemRules: {effect: {options: [PreferNoSchedule]}}}"
    outcome = run(workload, policies=[policy(rules=rules)])
    assert [(d.code, d.path) for d in outcome.diagnostics] == [
        ("E404", "spec.types.worker.resources.extraTolerations.gpu.effect")
    ]


# ---------------------------------------------------------------------------------------------
# limits


def test_limits_pass_at_the_boundary():
    outcome = run(policies=[policy(limits="pods: 2\ncpus: 16\nmemoryGB: 64\ngpus: 0")])
    assert outcome.codes == []


def test_limits_fail_above_the_boundary():
    outcome = run(policies=[policy(limits="pods: 1\ncpus: 15\nmemoryGB: 63")])
    assert outcome.codes == ["E411", "E411", "E411"]
    found = next(d for d in outcome.diagnostics if "memoryGB" in d.message)
    assert (
        found.message == "the workload's total memoryGB 64 (worker: 2 x 32) is above the limit 63"
    )
    assert found.related[0].message == "policy team-a-limits"


def test_jobset_pods_are_count_times_completions():
    outcome = run(
        with_spec("", WORKLOAD.replace("count: 2", "count: 3\n      completions: 5")),
        policies=[policy(limits="pods: 14")],
    )
    assert "total pods 15" in outcome.only("E411").message


@pytest.mark.parametrize(
    "operator, types, pods",
    [
        (
            "pytorch",
            "Master: {count: 1, completions: 9, resources: {cpus: 1, memory: 1}}\nWorker: {count: 3, resources: {cpus: 1, memory: 1}}",
            4,
        ),
        ("batchjob", "job: {count: 2, completions: 3, resources: {cpus: 1, memory: 1}}", 6),
        ("jax", "Worker: {count: 4, resources: {cpus: 1, memory: 1}}", 4),
    ],
)
def test_pods_per_operator(operator, types, pods):
    workload = (
        "kind: AIchorManifest\napiVersion: 0.2.3\nname: x\nproject: team-a\nspec:\n  operator: "
        + operator
        + "\n  image: i\n  command: c\n  types:\n"
        + textwrap.indent(types, "    ")
        + "\n"
    )
    outcome = run(workload, policies=[policy(limits=f"pods: {pods - 1}")])
    assert f"total pods {pods} " in outcome.only("E411").message
    assert run(workload, policies=[policy(limits=f"pods: {pods}")]).codes == []


# ---------------------------------------------------------------------------------------------
# every way around a policy is rejected


def test_set_on_a_locked_field_is_rejected():
    outcome = run(policies=[CAN_EDIT_POLICY], sets=["spec.env.HTTP_PROXY=http://mine:1"])
    found = outcome.only("E407")
    assert "value set by --set spec.env.HTTP_PROXY" in outcome.lines[0]
    assert found.location.file.startswith("--set")


def test_set_is_subject_to_every_rule():
    outcome = run(
        policies=[policy(rules="spec.types.*.count: {max: 4}")], sets=["spec.types.worker.count=5"]
    )
    assert outcome.codes == ["E401"]


def test_template_overriding_a_locked_value_is_rejected():
    template = TEMPLATE + "  env: {HTTP_PROXY: 'http://template:1'}\n"
    workload = "kind: AIchorManifest\nname: w\nproject: team-a\nbaseWorkload: team-a\nspec:\n  types: {worker: {count: 1}}\n"
    outcome = run(workload, policies=[CAN_EDIT_POLICY], templates=[template])
    found = outcome.only("E206")
    assert found.location.file == "workload.yaml"  # the workload's problem, in the workload
    assert any(r.location and r.location.file == "template-0.yaml" for r in found.related)
    assert "template team-a no longer satisfies the current policy" in found.message
    assert "value set by template team-a" in outcome.lines[0]


def test_deleting_a_non_removable_item_by_the_template_is_rejected():
    defaults = "spec: {ports: {admin: {container: 30100, external: 8080}}}"
    template = TEMPLATE + "  ports: {admin: {deleted: true}}\n"
    workload = "kind: AIchorManifest\nname: w\nproject: team-a\nbaseWorkload: team-a\nspec:\n  types: {worker: {count: 1}}\n"
    outcome = run(
        workload,
        policies=[policy(defaults=defaults, rules="spec.ports.admin: {canRemove: false}")],
        templates=[template],
    )
    assert outcome.only("E206").path == "spec.ports.admin"


def test_deleting_a_non_removable_item_by_set_is_rejected():
    defaults = "spec: {ports: {admin: {container: 30100, external: 8080}}}"
    outcome = run(
        policies=[policy(defaults=defaults, rules="spec.ports.admin: {canRemove: false}")],
        sets=["spec.ports.admin={deleted: true}"],
    )
    assert outcome.codes == ["E410"]


@pytest.mark.parametrize("how", ["workload", "template", "set"])
def test_adding_to_a_closed_collection_is_rejected(how):
    defaults = "spec: {secrets: {registry: {secretName: reg, mountPath: /reg}}}"
    policies = [policy(defaults=defaults, rules="spec.secrets: {canAdd: false}")]
    extra_item = "{secretName: mine, mountPath: /mine}"
    base = "kind: AIchorManifest\nname: w\nproject: team-a\nbaseWorkload: team-a\nspec:\n  types: {worker: {count: 1}}\n"
    if how == "workload":
        outcome = run(
            base + f"  secrets: {{mine: {extra_item}}}\n", policies=policies, templates=[TEMPLATE]
        )
    elif how == "template":
        outcome = run(
            base, policies=policies, templates=[TEMPLATE + f"  secrets: {{mine: {extra_item}}}\n"]
        )
    else:
        outcome = run(
            base, policies=policies, templates=[TEMPLATE], sets=[f"spec.secrets.mine={extra_item}"]
        )
    assert outcome.codes == (["E206"] if how == "template" else ["E409"]), outcome.lines


def test_splitting_gpus_across_types_does_not_slip_under_the_total():
    workload = WORKLOAD.replace(
        """    worker:
      count: 2
      resources:
        cpus: 8
        memory: 32
""",
        """    trainer:
      resources: {cpus: 8, memory: 32, accelerators: {gpu: {count: 8}}}
    evaluator:
      resources: {cpus: 8, memory: 32, accelerators: {gpu: {count: 8}}}
""",
    )
    rules = "spec.types.*.resources.accelerators.gpu.count: {max: 8}"
    outcome = run(workload, policies=[policy(rules=rules, limits="gpus: 8")])
    found = outcome.only("E411")
    assert (
        found.message
        == "the workload's total gpus 16 (trainer: 1 x 8, evaluator: 1 x 8) is above the limit 8"
    )
    assert outcome.codes == ["E411"]


def test_count_times_per_pod_gpus_is_limited():
    workload = WORKLOAD.replace(
        "memory: 32", "memory: 32\n        accelerators: {gpu: {count: 8}}"
    ).replace("count: 2", "count: 3")
    outcome = run(
        workload,
        policies=[
            policy(
                rules="spec.types.*.resources.accelerators.gpu.count: {max: 8}", limits="gpus: 16"
            )
        ],
    )
    assert "total gpus 24" in outcome.only("E411").message


# ---------------------------------------------------------------------------------------------
# scopes


def test_a_project_policy_applies_only_to_its_project():
    strict = policy(rules="spec.types.*.resources.cpus: {max: 1}", project="team-b", name="team-b")
    assert run(policies=[strict]).codes == []
    assert run(policies=[strict], project="team-b").codes == ["E401"]


def test_a_global_policy_applies_to_every_workload():
    strict = policy(rules="spec.types.*.resources.cpus: {max: 1}", project=None, name="global")
    assert run(policies=[strict]).codes == ["E401"]
    assert run(WORKLOAD.replace("project: team-a\n", ""), policies=[strict]).codes == ["E401"]


def test_a_project_policy_cannot_loosen_a_global_rule():
    global_rule = policy(rules="spec.types.*.resources.cpus: {max: 4}", project=None, name="global")
    loose = policy(rules="spec.types.*.resources.cpus: {max: 64}")
    outcome = run(policies=[global_rule, loose])
    assert outcome.codes == ["E401"]
    assert "policy global" in outcome.lines[0]


def test_project_defaults_layer_over_global_defaults():
    global_defaults = policy(
        defaults="spec: {timeout: 2d, ttlSecondsAfterFinished: 60}", project=None, name="global"
    )
    project_defaults = policy(defaults="spec: {timeout: 1d}")
    outcome = run(policies=[project_defaults, global_defaults])
    assert outcome.codes == []
    assert outcome.data["spec"]["timeout"] == "1d"
    assert outcome.data["spec"]["ttlSecondsAfterFinished"] == 60


def test_two_policies_of_one_scope_disagreeing_on_a_default():
    first = policy(defaults="spec: {timeout: 1d, env: {A: '1'}}", name="first")
    second = policy(defaults="spec: {timeout: 2d, env: {A: '1'}}", name="second")
    outcome = run(policies=[first, second])
    found = outcome.only("E205")
    assert found.path == "spec.timeout"
    assert (found.location.file, found.related[0].location.file) == (
        "policy-1.yaml",
        "policy-0.yaml",
    )


def test_two_policies_of_one_scope_agreeing_or_of_two_scopes_are_fine():
    first = policy(defaults="spec: {timeout: 1d}", name="first")
    same = policy(defaults="spec: {timeout: 1d, queue: q}", name="same")
    other_scope = policy(defaults="spec: {timeout: 2d}", name="global", project=None)
    assert run(policies=[first, same, other_scope]).codes == []


def test_the_base_breaking_a_changed_policy():
    template = TEMPLATE.replace(
        "{cpus: 8, memory: 32}", "{cpus: 8, memory: 32, accelerators: {gpu: {count: 5}}}"
    )
    workload = "kind: AIchorManifest\nname: w\nproject: team-a\nbaseWorkload: team-a\nspec:\n  types: {worker: {count: 1}}\n"
    outcome = run(
        workload,
        policies=[policy(rules="spec.types.*.resources.accelerators.gpu.count: {max: 3}")],
        templates=[template],
    )
    found = outcome.only("E206")
    assert (
        found.message
        == "5 is above the maximum 3: template team-a no longer satisfies the current policy (the policy changed)"
    )
    assert found.location.file == "workload.yaml"  # the workload's problem, in the workload
    assert any(r.location and r.location.file == "template-0.yaml" for r in found.related)


# ---------------------------------------------------------------------------------------------
# the examples


def test_the_team_a_example_compiles_under_its_policies():
    result = run_cli(
        "-p", "examples/policies", "-t", "examples/templates", "examples/team-a-my-ports.yaml"
    )
    assert result.exit_code == 0, result.stderr


def test_the_team_a_policy_rejects_the_data_case():
    result = run_cli(
        "check",
        "-p",
        "examples/policies",
        "-t",
        "examples/templates",
        "tests/data/policy/too-many-cpus.yaml",
    )
    assert result.exit_code == 1
    assert any(  # W110 (the team's ports are cluster-internal) comes from the policy file, first
        line.startswith(
            "tests/data/policy/too-many-cpus.yaml:14:15: error[E401] spec.types.worker.resources.cpus: 128 is above the maximum 96 "
            "(policy team-a-limits at examples/policies/team-a.yaml:"
        )
        for line in result.stdout.splitlines()
    ), result.stdout
    assert result.stdout.endswith("; value set by the workload)\n")


def test_a_field_with_a_structure_error_gets_no_second_policy_report():
    outcome = run(
        WORKLOAD.replace("cpus: 8", "cpus: lots"),
        policies=[policy(rules="spec.types.*.resources.cpus: {max: 4, options: [1]}")],
    )
    assert outcome.codes == ["E102"]


@pytest.mark.parametrize(
    "case, codes",
    [
        ("too-many-cpus", ["E401"]),
        ("locked-proxy", ["E407"]),
        ("removes-admin-port", ["E410"]),
        ("gpu-split", ["E411"]),
        ("unknown-base", ["E201"]),
        ("incomplete-port", ["E204"]),
    ],
)
def test_the_failing_cases_against_the_example_policies(case, codes):
    result = run_cli(
        "check",
        "--format",
        "json",
        "-p",
        "examples/policies",
        "-t",
        "examples/templates",
        f"tests/data/policy/{case}.yaml",
    )
    assert result.exit_code == 1
    import json

    found = json.loads(result.stdout)["diagnostics"]
    assert [d["code"] for d in found if d["severity"] == "error"] == codes, result.stdout
