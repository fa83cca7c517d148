"""`compile admission` without a cluster: the objects' shape, bindings, what is left to `compile`,
determinism, the CLI, golden and diff coverage. tests/cluster/test_admission.py runs the CEL on a
real API server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner
from policy_support import policy

from compiler.admission import admission_objects
from compiler.catalog import build_catalog
from compiler.cli.app import cli
from compiler.parse import load_documents
from compiler.validate.policy import loaded_policy

REPO = Path(__file__).resolve().parents[1]


def admission(*texts, **options):
    documents = []
    for index, text in enumerate(texts):
        parsed, problems = load_documents(text, f"policy-{index}.yaml")
        assert not problems
        documents += parsed
    catalog = build_catalog([], policy_documents=documents)
    return admission_objects([loaded_policy(d) for d in catalog.policies], **options)


def by_kind(result, kind):
    return [o for o in result.objects if o["kind"] == kind]


def policy_objects(result, kind):
    """The objects of ``kind`` that hold a policy's rules (not a project's door)."""
    return [o for o in by_kind(result, kind) if ".door." not in o["metadata"]["name"]]


def test_one_policy_and_one_binding_per_policy_and_kind_every_pod_included():
    result = admission(policy(rules="spec.image: {pattern: '^registry\\.example\\.com/'}"))
    policies = policy_objects(result, "ValidatingAdmissionPolicy")
    bindings = policy_objects(result, "ValidatingAdmissionPolicyBinding")
    assert [p["metadata"]["name"] for p in policies] == [
        "manifest-compiler.team-a-limits.jobset",
        "manifest-compiler.team-a-limits.rayjob",
        "manifest-compiler.team-a-limits.job",
        "manifest-compiler.team-a-limits.pod",
    ]
    assert [b["spec"]["policyName"] for b in bindings] == [p["metadata"]["name"] for p in policies]
    rules = [p["spec"]["matchConstraints"]["resourceRules"][0] for p in policies]
    assert [(r["apiGroups"], r["apiVersions"], r["resources"]) for r in rules] == [
        (["jobset.x-k8s.io"], ["v1alpha2"], ["jobsets"]),
        (["ray.io"], ["v1"], ["rayjobs"]),
        (["batch"], ["v1"], ["jobs"]),
        ([""], ["v1"], ["pods", "pods/ephemeralcontainers", "pods/resize"]),
    ]
    assert all(r["operations"] == ["CREATE", "UPDATE"] for r in rules)
    assert all(p["apiVersion"] == "admissionregistration.k8s.io/v1" for p in result.objects)


def test_a_project_policy_binds_its_namespace_and_a_global_one_everywhere_or_a_selector():
    project = admission(policy(rules="spec.timeout: {max: 1d}"))
    selector = by_kind(project, "ValidatingAdmissionPolicyBinding")[0]["spec"]["matchResources"]
    assert selector == {
        "namespaceSelector": {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team-a"]}
            ]
        }
    }
    everywhere = admission(policy(rules="spec.timeout: {max: 1d}", name="g", project=None))
    (expression,) = by_kind(everywhere, "ValidatingAdmissionPolicyBinding")[0]["spec"][
        "matchResources"
    ]["namespaceSelector"]["matchExpressions"]
    assert expression["operator"] == "NotIn"
    assert {"kube-system", "jobset-system", "kueue-system", "ray-system"} <= set(
        expression["values"]
    )
    chosen = admission(
        policy(rules="spec.timeout: {max: 1d}", name="g", project=None),
        global_selector={"compile/enforce": "yes"},
    )
    assert by_kind(chosen, "ValidatingAdmissionPolicyBinding")[0]["spec"]["matchResources"] == {
        "namespaceSelector": {"matchLabels": {"compile/enforce": "yes"}}
    }


def test_deny_by_default_audit_and_warn_with_audit():
    text = policy(rules="spec.timeout: {max: 1d}")
    actions = {
        tuple(b["spec"]["validationActions"])
        for b in by_kind(admission(text), "ValidatingAdmissionPolicyBinding")
    }
    assert actions == {("Deny",)}
    audited = {
        tuple(b["spec"]["validationActions"])
        for b in by_kind(admission(text, audit=True), "ValidatingAdmissionPolicyBinding")
    }
    assert audited == {("Audit", "Warn")}


def test_messages_name_the_policy_and_the_rule_with_its_place():
    result = admission(policy(rules="spec.types.*.resources.cpus: {max: 4}"))
    (validation,) = by_kind(result, "ValidatingAdmissionPolicy")[0]["spec"]["validations"]
    assert "policy team-a-limits" in validation["message"]
    assert "spec.types.*.resources.cpus" in validation["message"]
    assert "policy-0.yaml:" in validation["message"]
    assert validation["messageExpression"].startswith('"spec.types.*.resources.cpus')


def test_cel_uses_the_search_semantics_of_pattern_and_kubernetes_quantities():
    result = admission(
        policy(
            rules="""
            spec.image: {pattern: 'team-a'}
            spec.types.*.resources.memory: {max: 64}
            """
        )
    )
    jobset = by_kind(result, "ValidatingAdmissionPolicy")[0]["spec"]
    expressions = [v["expression"] for v in jobset["validations"]]
    assert any("c.image : '').matches(\"team-a\")" in e for e in expressions)
    assert any("quantity(string(" in v["expression"] for v in jobset["variables"])


def test_rules_only_the_manifest_shows_are_listed_in_the_header():
    result = admission(
        policy(
            defaults="spec: {env: {HTTP_PROXY: http://proxy:3128}}",
            rules="""
            spec.env.HTTP_PROXY: {canEdit: false}
            spec.types.*.resources.cpus: {min: 0.5, max: 96, step: 0.5}
            spec.secrets: {canAdd: false}
            """,
        )
    )
    header = result.header()
    assert "spec.env.HTTP_PROXY canEdit" in header
    assert "spec.types.*.resources.cpus step" in header
    assert "spec.secrets canAdd" in header
    assert "cpus min" not in header and "cpus max" not in header
    assert all(line.startswith("#") for line in header.splitlines())


def test_a_label_the_compiler_writes_itself_is_not_forbidden_in_the_cluster():
    result = admission(policy(rules='spec.labels["kueue.x-k8s.io/queue-name"]: {forbidden: true}'))
    assert policy_objects(result, "ValidatingAdmissionPolicy") == []
    assert "kueue.x-k8s.io/queue-name" in result.header()


def test_operator_options_refuse_the_kinds_no_allowed_operator_makes():
    result = admission(policy(rules="spec.operator: {options: [jobset, pytorch]}"))
    names = [p["metadata"]["name"] for p in policy_objects(result, "ValidatingAdmissionPolicy")]
    assert names == [
        "manifest-compiler.team-a-limits.rayjob",
        "manifest-compiler.team-a-limits.job",
    ]
    validations = by_kind(result, "ValidatingAdmissionPolicy")[0]["spec"]["validations"]
    assert [v["expression"] for v in validations] == ["false"]


def test_jobs_a_jobset_or_rayjob_controls_are_exempt():
    result = admission(policy(rules="spec.timeout: {max: 1d}"))
    job = by_kind(result, "ValidatingAdmissionPolicy")[2]["spec"]
    (condition,) = job["matchConditions"]
    assert "ownerReferences" in condition["expression"]


def test_a_pattern_re2_cannot_read_is_left_out_with_a_warning():
    result = admission(policy(rules="spec.image: {pattern: '^(?!evil)'}"))
    assert [d.code for d in result.diagnostics] == ["W130"]
    assert policy_objects(result, "ValidatingAdmissionPolicy") == []


def test_two_policies_with_one_object_name_are_an_error():
    result = admission(
        policy(rules="spec.timeout: {max: 1d}", name="Team A", project=None),
        policy(rules="spec.timeout: {max: 1d}", name="team-a", project=None),
    )
    assert [d.code for d in result.diagnostics] == ["E520"]


def test_the_output_is_deterministic_and_readable_by_kubectl():
    runner = CliRunner()
    first = runner.invoke(cli, ["admission", "-p", str(REPO / "examples/policies")])
    second = runner.invoke(cli, ["admission", "-p", str(REPO / "examples/policies")])
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    objects = [o for o in yaml.safe_load_all(first.output) if o]
    assert {o["kind"] for o in objects} == {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    assert first.output.startswith("# Admission policies compiled by manifest-compiler")


def test_cli_exit_codes(tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["admission"]).exit_code == 2  # no -p, no .compile.yaml
    missing = runner.invoke(cli, ["admission", "-p", "/nonexistent/policies.yaml"])
    assert missing.exit_code == 3
    bad = runner.invoke(
        cli, ["admission", "-p", str(REPO / "examples/policies"), "--global-selector", "x"]
    )
    assert bad.exit_code == 2


def test_golden_covers_the_admission_policies(tmp_path):
    """`compile golden` compares golden/admission/policies.yaml and --update writes it."""
    root = tmp_path / "repo"
    (root / "examples").mkdir(parents=True)
    import shutil

    shutil.copytree(REPO / "examples" / "policies", root / "examples" / "policies")
    run = [sys.executable, "-m", "compiler", "golden", "examples"]
    missing = subprocess.run(run, cwd=root, capture_output=True, text=True)
    assert "golden/admission/policies.yaml: missing" in missing.stdout
    assert missing.returncode == 1
    subprocess.run(run + ["--update"], cwd=root, capture_output=True, text=True, check=True)
    same = subprocess.run(run, cwd=root, capture_output=True, text=True)
    assert same.returncode == 0, same.stdout
    expected = subprocess.run(
        [sys.executable, "-m", "compiler", "admission", "-p", "examples/policies"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (root / "golden" / "admission" / "policies.yaml").read_text() == expected


def test_the_repository_golden_file_is_the_output_of_the_example_policies():
    expected = (REPO / "golden" / "admission" / "policies.yaml").read_text()
    runner = CliRunner()
    import os

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        result = runner.invoke(cli, ["admission", "-p", "examples/policies"])
    finally:
        os.chdir(cwd)
    assert result.output == expected


def test_diff_shows_a_change_of_the_admission_policies(tmp_path):
    before = tmp_path / "before.yaml"
    after = tmp_path / "after.yaml"
    before.write_text(policy(rules="spec.types.*.resources.cpus: {max: 8}"))
    after.write_text(policy(rules="spec.types.*.resources.cpus: {max: 4}"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "compiler",
            "diff",
            "--policies-before",
            str(before),
            "--policies-after",
            str(after),
            str(REPO / "examples" / "jobset-five-workers.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert "admission policies (compile admission): output changed" in result.stdout, result.stdout
    assert "manifest-compiler.team-a-limits.jobset" in result.stdout


def test_policies_default_to_those_of_compile_yaml(tmp_path, monkeypatch):
    import shutil

    shutil.copytree(REPO / "examples" / "policies", tmp_path / "policies")
    (tmp_path / ".compile.yaml").write_text("policies: [policies]\n")
    (tmp_path / ".compile.yaml").chmod(0o644)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    from_config = runner.invoke(cli, ["admission"])
    given = runner.invoke(cli, ["admission", "-p", "policies"])
    assert from_config.exit_code == 0, from_config.output
    assert from_config.output == given.output


def test_a_retry_bound_is_held_where_each_kind_keeps_its_retries():
    """Issue 22: spec.restartPolicy.backoffLimit max binds JobSet failurePolicy.maxRestarts and
    the child Jobs' limits, the RayJob's backoffLimit, a Job's limits (a Job with neither limit
    retries 6 times, batch/v1 JobSpec's default); the other restart fields stay with compile."""
    result = admission(
        policy(
            rules="spec.restartPolicy.backoffLimit: {min: 1, max: 3}\n"
            "spec.restartPolicy.scope: {options: [pod]}"
        )
    )
    expressions = {
        p["metadata"]["name"].rsplit(".", 1)[1]: " ".join(
            v["expression"] for v in p["spec"]["validations"]
        )
        for p in by_kind(result, "ValidatingAdmissionPolicy")
    }
    assert "object.spec.failurePolicy.maxRestarts <= 3" in expressions["jobset"]
    assert "r.template.spec.backoffLimitPerIndex <= 3" in expressions["jobset"]
    assert "object.spec.backoffLimit <= 3" in expressions["rayjob"]
    assert "object.spec.backoffLimitPerIndex <= 3" in expressions["job"]
    assert "6 <= 3" in expressions["job"]
    left = " ".join(item.describe() for item in result.left)
    assert "spec.restartPolicy.backoffLimit min" in left
    assert "spec.restartPolicy.scope options" in left


# ---------------------------------------------------------------------------------------------
# issue 20: the pod is the door


def door(result, project, part):
    name = f"manifest-compiler.door.{project}.{part}"
    (found,) = [
        o for o in by_kind(result, "ValidatingAdmissionPolicy") if o["metadata"]["name"] == name
    ]
    return found["spec"]


def test_a_project_namespace_refuses_other_kinds_that_run_pods_unless_a_policy_allows_them():
    result = admission(policy(rules="spec.timeout: {max: 1d}"))
    spec = door(result, "team-a", "kinds")
    resources = {r for rule in spec["matchConstraints"]["resourceRules"] for r in rule["resources"]}
    assert resources == {
        "pods",
        "replicationcontrollers",
        "deployments",
        "statefulsets",
        "replicasets",
        "daemonsets",
        "cronjobs",
        "rayclusters",
        "rayservices",
    }
    conditions = " ".join(c["expression"] for c in spec["matchConditions"])
    assert "system:serviceaccounts:jobset-system" in conditions  # what controllers make comes in
    assert [v["expression"] for v in spec["validations"]] == ["false"]
    (binding,) = [
        b
        for b in by_kind(result, "ValidatingAdmissionPolicyBinding")
        if b["spec"]["policyName"] == "manifest-compiler.door.team-a.kinds"
    ]
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0][
        "values"
    ] == ["team-a"]
    allowing = policy(rules="spec.timeout: {max: 1d}") + (
        "  admission: {allowKinds: [Pod, Deployment], priorityClasses: [vip]}\n"
    )
    allowed = door(admission(allowing), "team-a", "kinds")
    resources = {
        r for rule in allowed["matchConstraints"]["resourceRules"] for r in rule["resources"]
    }
    assert "pods" not in resources and "deployments" not in resources
    assert "statefulsets" in resources
    assert '["vip"]' in door(admission(allowing), "team-a", "pods")["validations"][0]["expression"]


def test_a_job_is_exempt_only_when_its_owners_controller_makes_it_and_updates_keep_its_spec():
    result = admission(policy(rules="spec.timeout: {max: 1d}"))
    job = policy_objects(result, "ValidatingAdmissionPolicy")[2]["spec"]
    (condition,) = job["matchConditions"]
    assert "ownerReferences" in condition["expression"]
    assert "request.userInfo" in condition["expression"]  # an ownerReference alone is no proof
    assert any("oldObject.spec" in v["expression"] for v in job["validations"])


def test_pods_are_judged_when_made_debugged_resized_or_their_spec_changes():
    result = admission(policy(rules="spec.image: {pattern: '^registry\\\\.example\\\\.com/'}"))
    pod = policy_objects(result, "ValidatingAdmissionPolicy")[3]["spec"]
    (condition,) = pod["matchConditions"]
    assert "ephemeralcontainers" in condition["expression"]
    (validation,) = pod["validations"]
    for channel in ("ephemeralContainers", "initContainers", "v.image.reference"):
        assert channel in validation["expression"]


def test_a_quota_requires_the_queue_label_even_without_rules():
    quota = """apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: team-b-quota, project: team-b}
spec:
  quota: {cpus: 8, memoryGB: 32}
"""
    result = admission(quota)
    names = [p["metadata"]["name"] for p in policy_objects(result, "ValidatingAdmissionPolicy")]
    assert "manifest-compiler.team-b-quota.jobset" in names
    jobset = policy_objects(result, "ValidatingAdmissionPolicy")[0]["spec"]
    assert any(
        "kueue.x-k8s.io/queue-name" in v["expression"] and "has a quota" in v["message"]
        for v in jobset["validations"]
    )


def test_global_policies_leave_system_namespaces_and_those_a_policy_names_alone():
    text = policy(rules="spec.timeout: {max: 1d}", name="g", project=None) + (
        "  cluster: {systemNamespaces: [training-operator]}\n"
    )
    (binding, *_) = by_kind(admission(text), "ValidatingAdmissionPolicyBinding")
    (expression,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert "kube-system" in expression["values"]
    assert "training-operator" in expression["values"]


def test_rayjob_groups_count_min_replicas_the_autoscaler_and_kuberays_submitter():
    result = admission(policy(limits="gpus: 8", name="g", project=None))
    rayjob = policy_objects(result, "ValidatingAdmissionPolicy")[1]["spec"]
    templates = rayjob["variables"][0]["expression"]
    assert "g.minReplicas" in templates
    assert "autoscalerOptions.image" in templates and "autoscalerOptions.resources" in templates
    assert "KubeRay's default submitter" in templates
    grouped = rayjob["variables"][1]["expression"]
    assert "nvidia.com/mig-" in grouped  # GPUs of every kind
    assert "restartPolicy == 'Always'" in grouped  # native sidecars add up
    assert "has(t.spec.resources)" in grouped  # pod-level resources
    messages = " ".join(v["message"] for v in rayjob["validations"])
    assert "DRA" in messages


def test_a_gpu_product_rule_reads_node_affinity_too():
    result = admission(
        policy(rules="spec.types.*.resources.accelerators.gpu.product: {options: [H100]}")
    )
    pod = policy_objects(result, "ValidatingAdmissionPolicy")[3]["spec"]
    (validation,) = pod["validations"]
    assert "nodeSelectorTerms" in validation["expression"]
    assert "e.operator == 'In'" in validation["expression"]


def test_an_unknown_kind_to_allow_is_an_error_with_its_place():
    text = policy(rules="spec.timeout: {max: 1d}") + "  admission: {allowKinds: [Foo]}\n"
    documents, problems = load_documents(text, "policy-0.yaml")
    assert not problems
    catalog = build_catalog([], policy_documents=documents)
    (diagnostic,) = catalog.diagnostics
    assert diagnostic.code == "E104"
    assert diagnostic.path == "spec.admission.allowKinds[0]"
    assert (diagnostic.location.line, diagnostic.location.column) == (9, 28)
