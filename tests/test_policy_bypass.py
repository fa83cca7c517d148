"""Every way around an administrator's policy found in issue 11, one class per section: each test
names the class, tries it in more than one spelling and asserts the policy holds."""

from __future__ import annotations

import textwrap

import pytest
from policy_support import WORKLOAD, policy, run, with_spec

PYTORCH = """\
kind: AIchorManifest
apiVersion: 0.2.3
name: ddp
project: team-a
spec:
  operator: pytorch
  image: registry.example.com/team-a/trainer:1.0
  command: python train.py
  types:
    worker:
      count: 50
      resources:
        cpus: 8
        memory: 32
        accelerators: {gpu: {count: 8, type: gpu}}
"""

SMUGGLED_POLICY = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: mine, project: team-a}
spec:
  defaults:
    spec:
      labels: {kueue.x-k8s.io/queue-name: vip}
      secrets: {stolen: {secretName: prod-db, mountPath: /s}}
"""


# ---------------------------------------------------------------------------------------------
# 1. a Policy among the manifests or templates is an error, never loaded


def test_a_policy_inside_a_workload_file_is_an_error_and_not_loaded():
    admin = policy(rules="spec.secrets: {canAdd: false}")
    outcome = run(WORKLOAD + "---\n" + SMUGGLED_POLICY, policies=[admin])
    assert "E208" in outcome.codes, outcome.lines
    # its defaults reached no workload
    (unit,) = outcome.units
    assert "secrets" not in unit.resolved.data["spec"]


def test_a_policy_inside_a_template_file_is_an_error():
    template = WORKLOAD.replace("name: train", "name: base\nusage: Template")
    outcome = run(
        WORKLOAD.replace("name: train", "name: train\nbaseWorkload: base"),
        templates=[template + "---\n" + SMUGGLED_POLICY],
    )
    assert "E208" in outcome.codes, outcome.lines
    (unit,) = outcome.units
    assert "labels" not in unit.resolved.data["spec"]


def test_a_policy_in_another_input_file_does_not_change_this_workload():
    outcome = run(WORKLOAD, workloads=[SMUGGLED_POLICY])
    assert outcome.codes == ["E208"], outcome.lines
    (unit,) = outcome.units
    assert "labels" not in unit.resolved.data["spec"]


def test_the_same_file_given_as_input_and_as_a_policy_path_is_trusted(tmp_path):
    from example_support import run_cli

    path = tmp_path / "p.yaml"
    path.write_text(policy(rules="spec.timeout: {max: 1d}"))
    result = run_cli("check", "-p", str(path), str(path), cwd=tmp_path)
    assert "E208" not in result.stdout, result.stdout


# ---------------------------------------------------------------------------------------------
# 2. removing a whole collection removes each item; `deleted` means something only on an item

PORTS_POLICY = policy(
    defaults="spec: {ports: {admin: {container: 30100, external: 8080}}}",
    rules="spec.ports.admin: {canRemove: false}",
)
SECRETS_POLICY = policy(
    defaults="spec: {secrets: {registry: {secretName: reg, mountPath: /reg}}}",
    rules="spec.secrets.registry: {canRemove: false}",
)


@pytest.mark.parametrize("how", ["ports: ~", "ports: {deleted: true}", "ports: []", "ports: 0"])
def test_removing_the_ports_collection_removes_a_protected_port(how):
    outcome = run(with_spec(how), policies=[PORTS_POLICY])
    assert outcome.codes, outcome.lines
    assert not outcome.objects


@pytest.mark.parametrize("how", ["secrets: ~", "secrets: {deleted: true}"])
def test_removing_the_secrets_collection_removes_a_protected_secret(how):
    outcome = run(with_spec(how), policies=[SECRETS_POLICY])
    assert "E410" in outcome.codes or "E209" in outcome.codes, outcome.lines
    assert not outcome.objects


def test_nulling_a_collection_is_a_removal_of_each_item():
    outcome = run(with_spec("secrets: ~"), policies=[SECRETS_POLICY])
    assert outcome.only("E410").path == "spec.secrets.registry"


def test_nulling_the_parent_of_a_collection_removes_its_items():
    pvc_policy = policy(
        defaults="spec: {storage: {attachExistingPVCs: [{name: data, mountPoint: /data}]}}",
        rules="spec.storage.attachExistingPVCs.data: {canRemove: false}",
    )
    outcome = run(with_spec("storage: ~"), policies=[pvc_policy])
    assert outcome.only("E410").path == "spec.storage.attachExistingPVCs.data"


def test_deleted_on_something_that_is_not_an_item_is_an_error():
    outcome = run(with_spec("storage: {deleted: true}"))
    assert "E209" in outcome.codes, outcome.lines
    assert outcome.only("E209").path == "spec.storage"


def test_deleting_an_item_still_works():
    outcome = run(
        with_spec("ports: {extra: {deleted: true}}"),
        policies=[policy(defaults="spec: {ports: {extra: {container: 30100, external: 1}}}")],
    )
    assert outcome.codes == [], outcome.lines
    assert not outcome.data["spec"].get("ports")


# ---------------------------------------------------------------------------------------------
# 3. type names bind case-insensitively where the operator reads them so


@pytest.mark.parametrize("rule_type", ["Worker", "worker", "WORKER"])
@pytest.mark.parametrize("written", ["worker", "Worker"])
def test_a_rule_on_one_spelling_of_a_type_binds_the_other(rule_type, written):
    manifest = PYTORCH.replace("    worker:", f"    {written}:")
    rules = f"""
        spec.types.{rule_type}.count: {{max: 4}}
        spec.types.{rule_type}.resources.accelerators.gpu.count: {{max: 1}}
    """
    outcome = run(manifest, policies=[policy(rules=rules)])
    assert outcome.codes == ["E401", "E401"], outcome.lines


def test_a_required_rule_on_master_is_satisfied_by_a_lower_case_master():
    manifest = PYTORCH.replace("count: 50", "count: 1").replace(
        "    worker:",
        "    master:\n      resources: {cpus: 1, memory: 4}\n    worker:",
    )
    outcome = run(manifest, policies=[policy(rules="spec.types.Master.resources.cpus: {max: 0.5}")])
    assert outcome.codes == ["E401"], outcome.lines


def test_a_jobset_rule_on_a_capitalised_type_binds_the_lower_case_type():
    # jobset type names are lower-case (and emitted as written), so `Worker` can only mean `worker`
    outcome = run(WORKLOAD, policies=[policy(rules="spec.types.Worker.count: {max: 1}")])
    assert outcome.codes == ["E401"], outcome.lines


# ---------------------------------------------------------------------------------------------
# 4. a rule binds the value that reaches the output, whichever field wrote it


def test_active_deadline_seconds_is_bound_by_a_timeout_rule():
    outcome = run(
        with_spec("activeDeadlineSeconds: 315360000"),
        policies=[policy(rules="spec.timeout: {max: 14d}")],
    )
    assert outcome.only("E401").path == "spec.activeDeadlineSeconds"


def test_active_deadline_seconds_satisfies_a_required_timeout():
    outcome = run(
        with_spec("activeDeadlineSeconds: 3600"),
        policies=[policy(rules="spec.timeout: {required: true, max: 14d}")],
    )
    assert outcome.codes == [], outcome.lines


def test_a_timeout_is_bound_by_an_active_deadline_seconds_rule():
    outcome = run(
        with_spec("timeout: 30d"),
        policies=[policy(rules="spec.activeDeadlineSeconds: {max: 86400}")],
    )
    assert outcome.only("E401").path == "spec.timeout"


def test_forbidding_the_timeout_forbids_the_deadline_however_written():
    outcome = run(
        with_spec("activeDeadlineSeconds: 60"),
        policies=[policy(rules="spec.timeout: {forbidden: true}")],
    )
    assert outcome.codes == ["E408"], outcome.lines


@pytest.mark.parametrize(
    "extra",
    [
        'labels: {"kueue.x-k8s.io/priority-class": critical}',
        'labels: {"kueue.x-k8s.io/queue-name": vip}',
    ],
)
def test_the_kueue_labels_are_written_only_through_queue_and_priority(extra):
    outcome = run(
        with_spec("priority: low\nqueue: team-a\n" + extra),
        policies=[policy(rules="spec.priority: {options: [low]}")],
    )
    assert outcome.codes == ["E210"], outcome.lines


@pytest.mark.parametrize(
    "label, field, value",
    [("queue-name", "queue", "vip"), ("priority-class", "priority", "critical")],
)
def test_a_rule_on_a_kueue_label_binds_the_field_that_writes_it(label, field, value):
    rule = f'spec.labels["kueue.x-k8s.io/{label}"]: {{options: [low, team-a], required: true}}'
    outcome = run(with_spec(f"{field}: {value}"), policies=[policy(rules=rule)])
    assert [(d.code, d.path) for d in outcome.diagnostics if d.is_error] == [
        ("E404", f"spec.{field}")
    ], outcome.lines
    assert run(policies=[policy(rules=rule)]).codes == ["E406"]
    assert run(with_spec(f"{field}: team-a"), policies=[policy(rules=rule)]).codes == []


def test_extra_selectors_may_not_name_the_gpu_product():
    manifest = PYTORCH.replace(
        "accelerators: {gpu: {count: 8, type: gpu}}",
        "accelerators: {gpu: {count: 1, type: gpu, product: A100}}\n"
        '        extraSelectors: {"nvidia.com/gpu.product": H100}',
    ).replace("count: 50", "count: 1")
    rules = "spec.types.*.resources.accelerators.gpu.product: {options: [A100]}"
    outcome = run(manifest, policies=[policy(rules=rules)])
    assert outcome.codes == ["E210"], outcome.lines


def test_extra_selectors_may_not_name_the_clusters_gpu_product_label():
    cluster = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: cluster}
spec:
  cluster: {gpuProductLabel: cloud.google.com/gke-accelerator}
"""
    manifest = PYTORCH.replace(
        "accelerators: {gpu: {count: 8, type: gpu}}",
        "accelerators: {gpu: {count: 1, type: gpu, product: nvidia-l4}}\n"
        '        extraSelectors: {"cloud.google.com/gke-accelerator": nvidia-h100-80gb}',
    ).replace("count: 50", "count: 1")
    outcome = run(manifest, policies=[cluster])
    assert outcome.codes == ["E210"], outcome.lines


def test_a_memory_rule_binds_the_memory_ramratio_gives():
    manifest = WORKLOAD.replace("memory: 32", "ramRatio: 100")  # 8 cpus x 100 = 800 GB
    outcome = run(manifest, policies=[policy(rules="spec.types.*.resources.memory: {max: 64}")])
    assert outcome.only("E401").path == "spec.types.worker.resources.ramRatio"


def test_a_ramratio_rule_binds_the_ratio_memory_gives():
    manifest = WORKLOAD.replace("memory: 32", "memory: 512")  # 512 GB / 8 cpus = 64 per cpu
    outcome = run(manifest, policies=[policy(rules="spec.types.*.resources.ramRatio: {max: 8}")])
    assert outcome.only("E401").path == "spec.types.worker.resources.memory"
    assert run(policies=[policy(rules="spec.types.*.resources.ramRatio: {max: 8}")]).codes == []


# ---------------------------------------------------------------------------------------------
# 5. required means a real value; queue and priority are label values


@pytest.mark.parametrize("value", ['""', '" "', '"\\t"'])
def test_a_blank_value_does_not_satisfy_required(value):
    outcome = run(
        with_spec(f"queue: {value}"), policies=[policy(rules="spec.queue: {required: true}")]
    )
    assert "E406" in outcome.codes, outcome.lines


def test_an_empty_collection_does_not_satisfy_required():
    outcome = run(with_spec("env: {}"), policies=[policy(rules="spec.env: {required: true}")])
    assert "E406" in outcome.codes, outcome.lines


@pytest.mark.parametrize("field", ["queue", "priority"])
@pytest.mark.parametrize("value", ['""', '" "', "'a b'", "-x", "x" * 64, "'q/../x'"])
def test_queue_and_priority_must_be_label_values(field, value):
    outcome = run(with_spec(f"{field}: {value}"))
    assert outcome.codes == ["E212"], outcome.lines


@pytest.mark.parametrize("field", ["queue", "priority"])
def test_a_good_queue_and_priority_compile(field):
    outcome = run(with_spec(f"{field}: team-a.high_1"))
    assert outcome.codes == [], outcome.lines


# ---------------------------------------------------------------------------------------------
# 12. policies of one scope: rules-only and defaults-only agree


def test_a_rules_only_and_a_defaults_only_policy_of_one_scope_agree():
    rules_only = policy(rules="spec.timeout: {max: 7d}", name="rules")
    defaults_only = policy(defaults="spec: {timeout: 1d}", name="defaults")
    outcome = run(policies=[rules_only, defaults_only])
    assert outcome.codes == [], outcome.lines
    outcome = run(policies=[defaults_only, rules_only])
    assert outcome.codes == [], outcome.lines


def test_limits_only_and_empty_defaults_policies_agree():
    limits_only = policy(limits="gpus: 8", name="limits")
    empty = policy(defaults="spec: {env: {}}", name="empty")
    defaults_only = policy(defaults="spec: {env: {A: b}}", name="defaults")
    outcome = run(policies=[limits_only, empty, defaults_only])
    assert outcome.codes == [], outcome.lines


def test_a_rules_only_project_policy_added_to_the_examples_breaks_nothing(tmp_path):
    import shutil

    from example_support import EXAMPLES, run_cli

    shutil.copytree(EXAMPLES / "policies", tmp_path / "policies")
    (tmp_path / "policies" / "team-b.yaml").write_text(
        policy(rules="spec.timeout: {max: 1d}", name="team-a-rules", project="team-a")
    )
    for example in ("jobset-five-workers.yaml", "team-a-my-ports.yaml"):
        result = run_cli(
            "check",
            "-p",
            str(tmp_path / "policies"),
            "-t",
            str(EXAMPLES / "templates"),
            str(EXAMPLES / example),
        )
        assert "E205" not in result.stdout, result.stdout


def test_two_policies_of_one_scope_still_clash_on_one_default():
    first = policy(defaults="spec: {timeout: 1d}", name="first")
    second = policy(defaults="spec: {timeout: 2d}", name="second")
    assert "E205" in run(policies=[first, second]).codes


# ---------------------------------------------------------------------------------------------
# 13. pattern is a search


@pytest.mark.parametrize(
    "pattern, passes",
    [
        ("'^registry\\.example\\.com/'", True),
        ("'example'", True),
        ("'^registry\\.example\\.com/team-a/trainer:1\\.0$'", True),
        ("'^example'", False),
        ("'trainer$'", False),
    ],
)
def test_pattern_is_a_search(pattern, passes):
    outcome = run(policies=[policy(rules=f"spec.image: {{pattern: {pattern}}}")])
    assert outcome.codes == ([] if passes else ["E405"]), outcome.lines
    assert not any(d.code == "W106" for d in outcome.diagnostics)


def test_pattern_on_an_item_member_is_a_search():
    rules = "spec.env: {itemRules: {value: {pattern: 'proxy'}}}"
    rules = "spec.env.HTTP_PROXY: {pattern: '^http://proxy'}"
    outcome = run(
        with_spec("env: {HTTP_PROXY: 'http://proxy.example:3128'}"), policies=[policy(rules=rules)]
    )
    assert outcome.codes == [], outcome.lines


def _dedent(text: str) -> str:
    return textwrap.dedent(text)


# ---------------------------------------------------------------------------------------------
# 7. memory that rounds to zero is an error; limits see the emitted quantity


@pytest.mark.parametrize(
    "resources",
    [
        "{cpus: 8, memory: 0.0000000001}",
        "{cpus: 8, ramRatio: 0.00000000001}",
        "{cpus: 8, memory: 32, shmSizeGB: 0.0000000001}",
    ],
)
def test_memory_that_rounds_to_zero_is_an_error(resources):
    manifest = WORKLOAD.replace(
        "      resources:\n        cpus: 8\n        memory: 32\n", f"      resources: {resources}\n"
    )
    outcome = run(manifest, policies=[policy(limits="memoryGB: 1")])
    assert "E213" in outcome.codes, outcome.lines
    assert not outcome.objects


def test_limits_count_the_emitted_cpu_quantity():
    # 0.0015 CPU is emitted as 2m: 1000 pods ask 2 CPUs, not 1.5
    manifest = WORKLOAD.replace("count: 2", "count: 1000").replace("cpus: 8", "cpus: 0.0015")
    outcome = run(manifest, policies=[policy(limits="cpus: 1.9")])
    assert outcome.codes == ["E411"], outcome.lines


# ---------------------------------------------------------------------------------------------
# 8. labels and annotations the compiler owns cannot be set


@pytest.mark.parametrize(
    "key",
    [
        "app.kubernetes.io/managed-by",
        "manifest-compiler/workload",
        "manifest-compiler/project",
        "manifest-compiler/source",
        "manifest-compiler/digest",
        "manifest-compiler/image-digest",
        "manifest-compiler/submitted-by",
        "manifest-compiler/git-commit",
    ],
)
@pytest.mark.parametrize("collection", ["labels", "annotations"])
def test_compiler_owned_metadata_cannot_be_set(collection, key):
    outcome = run(with_spec(f'{collection}: {{"{key}": forged}}'))
    assert outcome.codes == ["E211"], outcome.lines
    assert not outcome.objects


def test_compiler_owned_metadata_cannot_come_from_a_template_either():
    template = WORKLOAD.replace("name: train", "name: base\nusage: Template")
    template = with_spec('labels: {"manifest-compiler/workload": other}', template)
    outcome = run(
        WORKLOAD.replace("name: train", "name: train\nbaseWorkload: base"), templates=[template]
    )
    assert "E211" in outcome.codes, outcome.lines


def test_other_labels_are_fine():
    outcome = run(with_spec('labels: {"app.kubernetes.io/team": a, "example.com/x": y}'))
    assert outcome.codes == [], outcome.lines


# ---------------------------------------------------------------------------------------------
# 9. project and namespace are DNS-1123 labels


@pytest.mark.parametrize(
    "project",
    ["'x/../../api/v1/namespaces/kube-system/configmaps/victim?'", "Team-A", "a_b", "'a b'", "-a"],
)
def test_a_project_must_be_a_dns_label(project):
    outcome = run(WORKLOAD.replace("project: team-a", f"project: {project}"))
    assert "E214" in outcome.codes, outcome.lines
    assert not outcome.objects


@pytest.mark.parametrize("namespace", ["a/../b", "kube-system/x", "A"])
def test_a_namespace_must_be_a_dns_label(namespace):
    from policy_support import _parse

    from compiler.catalog import build_catalog
    from compiler.pipeline import Options, compile_documents

    (document,) = _parse(WORKLOAD, "workload.yaml")
    catalog = build_catalog([document])
    (unit,) = compile_documents([document], catalog, Options(namespace=namespace))
    assert [d.code for d in unit.diagnostics if d.is_error] == ["E214"], unit.diagnostics


# ---------------------------------------------------------------------------------------------
# 6. the image that runs is the image the rules check

DIGEST = "sha256:" + "a" * 64


def _pinned(workload: str, policies, registry: str | None = None):
    from policy_support import _parse

    from compiler.catalog import build_catalog
    from compiler.pipeline import Options, compile_documents

    if registry:
        workload = workload.replace("spec:\n", f"builder: {{registry: {registry}}}\nspec:\n", 1)
    (document,) = _parse(workload, "workload.yaml")
    policy_documents = [d for i, text in enumerate(policies) for d in _parse(text, f"p{i}.yaml")]
    catalog = build_catalog([document], policy_documents=policy_documents)
    (unit,) = compile_documents([document], catalog, Options(image_digest=DIGEST))
    return unit


def _images(objects) -> set:
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if "image" in node and "name" in node:
                found.add(node["image"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(objects)
    return found


def test_a_registry_that_moves_the_image_breaks_the_image_pattern():
    rules = "spec.image: {pattern: '^registry\\.example\\.com/'}"
    unit = _pinned(WORKLOAD, [policy(rules=rules)], registry="evil.example.net")
    assert [d.code for d in unit.diagnostics if d.is_error] == ["E405"], unit.diagnostics
    assert "evil.example.net/" in unit.diagnostics[0].message
    assert not unit.objects


def test_a_registry_that_moves_the_image_breaks_the_image_options():
    rules = "spec.image: {options: ['registry.example.com/team-a/trainer:1.0']}"
    unit = _pinned(WORKLOAD, [policy(rules=rules)], registry="evil.example.net")
    assert [d.code for d in unit.diagnostics if d.is_error] == ["E404"], unit.diagnostics


def test_pinning_the_allowed_image_in_place_is_fine():
    rules = """
        spec.image: {pattern: '^registry\\.example\\.com/team-a/', options: ['registry.example.com/team-a/trainer:1.0']}
    """
    unit = _pinned(WORKLOAD, [policy(rules=rules)])
    assert unit.ok, unit.diagnostics
    assert _images(unit.objects) == {f"registry.example.com/team-a/trainer@{DIGEST}"}


def test_an_anchored_whole_image_pattern_sees_the_digest():
    rules = "spec.image: {pattern: '^[^@]+:[0-9.]+$'}"  # only tagged images
    unit = _pinned(WORKLOAD, [policy(rules=rules)])
    assert [d.code for d in unit.diagnostics if d.is_error] == ["E405"], unit.diagnostics


# ---------------------------------------------------------------------------------------------
# 11. one name, one workload; one name, one template per scope


def test_two_workloads_of_one_name_in_one_file_are_an_error():
    outcome = run(WORKLOAD + "---\n" + WORKLOAD)
    assert outcome.codes == ["E215"], outcome.lines
    assert len([o for o in outcome.objects if o["kind"] == "JobSet"]) == 1


def test_two_workloads_of_one_name_in_two_files_are_an_error():
    outcome = run(WORKLOAD, workloads=[WORKLOAD.replace("cpus: 8", "cpus: 4")])
    assert outcome.codes == ["E215"], outcome.lines


def test_two_nameless_workloads_of_one_file_get_distinct_names():
    nameless = WORKLOAD.replace("name: train\n", "")
    outcome = run(nameless + "---\n" + nameless)
    assert outcome.codes == [], outcome.lines  # workload and workload-1


def test_check_reports_two_workloads_of_one_name_across_files(tmp_path):
    from example_support import run_cli

    (tmp_path / "a.yaml").write_text(WORKLOAD)
    (tmp_path / "b.yaml").write_text(WORKLOAD)
    result = run_cli("check", "a.yaml", "b.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "error[E215]" in result.stdout


def test_two_templates_of_one_name_one_with_an_empty_project_are_an_error():
    template = WORKLOAD.replace("name: train", "name: base\nusage: Template").replace(
        "project: team-a\n", ""
    )
    empty_project = template.replace("usage: Template", "usage: Template\nproject: ''")
    outcome = run(
        WORKLOAD.replace("name: train", "name: train\nbaseWorkload: base"),
        templates=[template, empty_project],
    )
    assert "E203" in outcome.codes, outcome.lines


@pytest.mark.parametrize(
    "namespace, name",
    [
        ("x/../../api/v1/namespaces/kube-system/configmaps/victim?", "job"),
        ("a/../b", "job"),
        ("team-a", "../../secrets/x"),
        ("..", "job"),
        ("team-a", "j#frag?q=1%2F"),
    ],
)
def test_every_path_segment_sent_to_the_api_server_is_encoded(namespace, name):
    from compiler.cluster.kinds import JOBSET, POD

    for resource, subresource in ((JOBSET, None), (POD, "log")):
        path = resource.path(namespace, name, subresource)
        plain = resource.path("ns", "name", subresource)
        segments = path.split("/")
        assert "?" not in path and "#" not in path, path
        assert ".." not in segments and "." not in segments, path
        assert len(segments) == len(plain.split("/")), path


def test_plain_names_keep_their_path():
    from compiler.cluster.kinds import JOBSET

    assert (
        JOBSET.path("team-a", "train")
        == "/apis/jobset.x-k8s.io/v1alpha2/namespaces/team-a/jobsets/train"
    )


def test_compile_run_with_a_memory_that_rounds_to_zero_is_refused(tmp_path):
    from example_support import run_cli

    result = run_cli(
        "run",
        "--image",
        "r/x:1",
        "--memory",
        "1e-12",
        "--dry-run",
        "--",
        "python",
        "a.py",
        cwd=tmp_path,
    )
    assert result.exit_code == 1
    assert "error[E213]" in result.stdout + result.stderr
