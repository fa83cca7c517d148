"""Issue 22: one failure and restart vocabulary (SPEC 2.8), compiled for every kind.

The emitted objects are judged by models of the controllers written here from the upstream
sources (never from the emitter's code):

- the Job controller's pod failure policy (kubernetes pkg/controller/job/pod_failure_policy.go:
  rules in order, first match wins; exit codes of terminated containers, 0 never matching; pod
  conditions by type and status; the FailJob messages) and its limits (backoffLimit counts every
  failed pod not ignored; backoffLimitPerIndex counts per index, maxFailedIndexes bounds failed
  indexes; activeDeadlineSeconds fails with DeadlineExceeded);
- JobSet v0.12's failure policy (api/jobset/v1alpha2/jobset_types.go, pkg/controllers/
  failure_policy.go): the first rule whose reasons and message patterns both match acts, none
  matching means RestartJobSet; no failurePolicy at all means any failed Job fails the JobSet;
- KubeRay v1.6's RayJob (rayjob_controller.go checkBackoffLimitAndUpdateStatusIfNeeded): a failed
  attempt is retried while failed < backoffLimit + 1, except one that failed with DeadlineExceeded.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from example_support import run_cli
from test_operator_runs import compile_text
from test_upstream_schemas import core_errors, crd_errors

NS = "default"


def manifest(operator: str, restart: str = "", extra: str = "", types: str | None = None) -> str:
    if types is None:
        types = {
            "pytorch": "Master: {count: 1}\n    Worker: {count: 2}",
            "xgboost": "Master: {count: 1}\n    Worker: {count: 2}",
            "jax": "worker: {count: 2}",
            "tf": "worker: {count: 2}",
            "jobset": "worker: {count: 2, completions: 3, parallelisms: 3}",
            "batchjob": "worker: {count: 3}",
            "kuberay": "Head: {resources: {cpus: 1, ramRatio: 2}}\n    Workers: [{name: w, count: 1, resources: {cpus: 1, ramRatio: 2}}]",
        }[operator]
    text = (
        "name: job\n"
        "spec:\n"
        f"  operator: {operator}\n"
        "  image: img\n"
        "  command: run\n"
        "  types:\n"
        f"    {types}\n"
    )
    if operator != "kuberay" and "resources" not in types:
        text = text.replace("}", ", resources: {cpus: 1, ramRatio: 1}}")
    if restart:
        text += f"  restartPolicy: {restart}\n"
    return text + extra


# ---------------------------------------------------------------------------------------------
# models of the controllers


def pod_failure_action(job_spec: dict, pod: dict) -> tuple[str, str | None]:
    """(action, FailJob message) for a failed pod; "Count" when no rule matches."""
    rules = (job_spec.get("podFailurePolicy") or {}).get("rules") or []
    for index, rule in enumerate(rules):
        codes = rule.get("onExitCodes")
        if codes is not None:
            code = pod.get("exitCode", 0)
            matched = code != 0 and ((code in codes["values"]) == (codes["operator"] == "In"))
            if matched:
                if rule["action"] == "FailJob":
                    return "FailJob", (
                        f"Container main for pod {NS}/{pod['name']} failed with exit code "
                        f"{code} matching FailJob rule at index {index}"
                    )
                return rule["action"], None
        for pattern in rule.get("onPodConditions") or []:
            if (pattern["type"], pattern["status"]) in pod.get("conditions", ()):
                if rule["action"] == "FailJob":
                    return "FailJob", (
                        f"Pod {NS}/{pod['name']} has condition {pattern['type']} matching "
                        f"FailJob rule at index {index}"
                    )
                return rule["action"], None
    return "Count", None


def run_job(job_spec: dict, attempts: dict[int, list[dict]]) -> tuple[str, str, int]:
    """Play the failed pods of each index (in order; an index whose list runs out succeeds)
    through one Job: (outcome, reason or message, pods created). Outcome Complete or Failed."""
    assert job_spec["template"]["spec"]["restartPolicy"] == "Never"
    per_index = job_spec.get("backoffLimitPerIndex")
    backoff = job_spec.get("backoffLimit", 2**31 - 1 if per_index is not None else 6)
    failed_total, created = 0, 0
    failed_indexes = 0
    for index in range(job_spec["completions"]):
        failures = 0
        for pod in attempts.get(index, []):
            created += 1
            if pod.get("deadline"):
                return "Failed", "DeadlineExceeded", created
            action, message = pod_failure_action(job_spec, {"name": f"p-{index}", **pod})
            if action == "FailJob":
                return "Failed", f"PodFailurePolicy: {message}", created
            if action == "Ignore":
                continue
            failures += 1
            failed_total += 1
            if per_index is not None and failures > per_index:
                failed_indexes += 1
                if failed_indexes > job_spec.get("maxFailedIndexes", 2**31):
                    return "Failed", "MaxFailedIndexesExceeded", created
                break
            if failed_total > backoff:
                return "Failed", "BackoffLimitExceeded", created
        else:
            created += 1  # the attempt that succeeds
    if failed_indexes:
        return "Failed", "FailedIndexes", created
    return "Complete", "", created


def jobset_action(jobset: dict, reason_message: str) -> str:
    """JobSet's answer to a child Job that failed with ``reason_message`` ("Reason: message")."""
    policy = jobset["spec"].get("failurePolicy")
    if policy is None:
        return "FailJobSet"
    reason, _, message = reason_message.partition(": ")
    for rule in policy.get("rules") or []:
        reasons = rule.get("onJobFailureReasons") or []
        patterns = rule.get("onJobFailureMessagePatterns") or []
        if reasons and reason not in reasons:
            continue
        if patterns and not any(re.search(p, message) for p in patterns):
            continue
        return rule["action"]
    return "RestartJobSet"


def run_jobset(jobset: dict, attempts: list[dict[int, list[dict]]]) -> tuple[str, int, int]:
    """Play attempts of the first replicated job (one dict of failed pods per JobSet attempt):
    (outcome, restarts counted against maxRestarts, JobSet attempts made)."""
    rjob = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]
    max_restarts = (jobset["spec"].get("failurePolicy") or {}).get("maxRestarts", 0)
    counted = 0
    for number, failures in enumerate(attempts, start=1):
        outcome, reason, _ = run_job(rjob, failures)
        if outcome == "Complete":
            return "Completed", counted, number
        action = jobset_action(jobset, reason)
        if action == "FailJobSet":
            return "Failed", counted, number
        if action == "RestartJobSet":
            if counted >= max_restarts:
                return "Failed", counted, number
            counted += 1
    raise AssertionError("ran out of attempts")


CRASH = {"exitCode": 1}
FATAL = {"exitCode": 42}
EVICTED = {"exitCode": 137, "conditions": [("DisruptionTarget", "True")]}
TIMEOUT = {"deadline": True}

GANG = ["pytorch", "xgboost", "jax", "tf"]


# ---------------------------------------------------------------------------------------------
# the workload scope on JobSet: the gang restarts whole


def test_a_timeout_is_never_retried_by_a_gang(tmp_path):
    """The bug of the issue: failurePolicy {maxRestarts: 2} and no rules made JobSet restart on
    DeadlineExceeded, so `timeout: 3d` could run about 9 days."""
    text = manifest("pytorch", "{backoffLimit: 2}", "  timeout: 3d\n")
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    assert jobset_action(jobset, "DeadlineExceeded: Job was active longer than specified") == (
        "FailJobSet"
    )
    assert run_jobset(jobset, [{0: [TIMEOUT]}, {}]) == ("Failed", 0, 1)


def test_the_golden_pytorch_job_fails_on_its_deadline():
    golden = Path(__file__).resolve().parents[1] / "golden" / "pytorch-gpu-rdma.yaml"
    import yaml

    (jobset,) = [d for d in yaml.safe_load_all(golden.read_text()) if d["kind"] == "JobSet"]
    assert jobset["spec"]["failurePolicy"]["maxRestarts"] == 2
    assert jobset_action(jobset, "DeadlineExceeded: x") == "FailJobSet"


@pytest.mark.parametrize("operator", GANG)
def test_a_gang_restarts_whole_once_per_program_failure(tmp_path, operator):
    result, objects = compile_text(tmp_path, manifest(operator, "{backoffLimit: 1}"))
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    for rjob in jobset["spec"]["replicatedJobs"]:
        assert rjob["template"]["spec"]["backoffLimit"] == 0, "one failed pod fails its Job"
    # a rank that crashes on its first attempt only: one restart, then it completes
    assert run_jobset(jobset, [{0: [CRASH]}, {}]) == ("Completed", 1, 2)
    # crashing every time: backoffLimit 1 gives two attempts
    assert run_jobset(jobset, [{0: [CRASH]}, {0: [CRASH]}, {}]) == ("Failed", 1, 2)


@pytest.mark.parametrize("operator", GANG)
def test_a_fatal_exit_code_fails_a_gang_at_once(tmp_path, operator):
    text = manifest(operator, "{backoffLimit: 3, failOnExitCodes: [42]}")
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    assert run_jobset(objects["JobSet"], [{0: [FATAL]}, {}]) == ("Failed", 0, 1)
    # another code still restarts
    assert run_jobset(objects["JobSet"], [{0: [CRASH]}, {}]) == ("Completed", 1, 2)


@pytest.mark.parametrize("operator", GANG)
def test_a_disruption_restarts_a_gang_without_counting(tmp_path, operator):
    result, objects = compile_text(tmp_path, manifest(operator, "{backoffLimit: 0}"))
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    assert run_jobset(jobset, [{0: [EVICTED]}, {0: [EVICTED]}, {}]) == ("Completed", 0, 3)
    # without restartPolicy at all (backoffLimit 0 by default) too
    result, objects = compile_text(tmp_path, manifest(operator))
    assert run_jobset(objects["JobSet"], [{0: [EVICTED]}, {}]) == ("Completed", 0, 2)
    assert run_jobset(objects["JobSet"], [{0: [CRASH]}, {}]) == ("Failed", 0, 1)


def test_a_disrupted_pod_is_a_disruption_whatever_its_exit_code(tmp_path):
    text = manifest("pytorch", "{failOnExitCodes: [137]}")
    _, objects = compile_text(tmp_path, text)
    assert run_jobset(objects["JobSet"], [{0: [EVICTED]}, {}]) == ("Completed", 0, 2)


def test_the_jobset_operator_can_ask_for_the_workload_scope(tmp_path):
    text = manifest("jobset", "{scope: workload, backoffLimit: 1}")
    _, objects = compile_text(tmp_path, text)
    jobset = objects["JobSet"]
    assert jobset["spec"]["failurePolicy"]["maxRestarts"] == 1
    assert run_jobset(jobset, [{1: [CRASH]}, {}]) == ("Completed", 1, 2)


# ---------------------------------------------------------------------------------------------
# the pod scope: JobSet (jobset's default) and batch/v1 Job


def _jobs(operator: str, objects: dict) -> list[dict]:
    if operator == "batchjob":
        return [objects["Job"]["spec"]]
    return [r["template"]["spec"] for r in objects["JobSet"]["spec"]["replicatedJobs"]]


@pytest.mark.parametrize("operator", ["jobset", "batchjob", "pytorch"])
def test_the_pod_scope_retries_only_the_failed_pod(tmp_path, operator):
    restart = "{backoffLimit: 1}" if operator != "pytorch" else "{backoffLimit: 1, scope: pod}"
    result, objects = compile_text(tmp_path, manifest(operator, restart))
    assert result.exit_code == 0, result.stderr
    for job in _jobs(operator, objects):
        assert job["completionMode"] == "Indexed"
        assert job.get("podReplacementPolicy") == "Failed"
        # index 0 crashes once, index 1 never: the Job completes, having made one extra pod
        outcome, _, created = run_job(job, {0: [CRASH]})
        assert (outcome, created) == ("Complete", job["completions"] + 1)
        # each index has its own retries: two indexes crashing once each still completes
        assert run_job(job, {0: [CRASH], 1: [CRASH]})[0] == "Complete"
        # an index crashing twice fails the Job at once
        assert run_job(job, {0: [CRASH, CRASH]})[:2] == ("Failed", "MaxFailedIndexesExceeded")
    if operator != "batchjob":
        assert "failurePolicy" not in objects["JobSet"]["spec"], "a failed Job fails the JobSet"


@pytest.mark.parametrize("operator", ["jobset", "batchjob"])
def test_the_pod_scope_fails_on_a_fatal_exit_code(tmp_path, operator):
    text = manifest(operator, "{backoffLimit: 3, failOnExitCodes: [42, 3, 42]}")
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    for job in _jobs(operator, objects):
        rules = job["podFailurePolicy"]["rules"]
        assert {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3, 42]}} in rules
        outcome, reason, created = run_job(job, {0: [FATAL]})
        assert (outcome, created) == ("Failed", 1)
        assert reason.startswith("PodFailurePolicy: Container main for pod default/p-0 failed")


@pytest.mark.parametrize("operator", ["jobset", "batchjob"])
def test_the_pod_scope_replaces_a_disrupted_pod_without_counting(tmp_path, operator):
    result, objects = compile_text(tmp_path, manifest(operator, "{backoffLimit: 0}"))
    assert result.exit_code == 0, result.stderr
    for job in _jobs(operator, objects):
        assert run_job(job, {0: [EVICTED, EVICTED]})[0] == "Complete"
        assert run_job(job, {0: [CRASH]})[0] == "Failed"


def test_a_batch_job_is_bounded_by_its_deadline(tmp_path):
    text = manifest("batchjob", "{backoffLimit: 3}", "  timeout: 1h\n")
    _, objects = compile_text(tmp_path, text)
    job = objects["Job"]["spec"]
    assert job["activeDeadlineSeconds"] == 3600
    assert run_job(job, {0: [TIMEOUT]})[:2] == ("Failed", "DeadlineExceeded")


# ---------------------------------------------------------------------------------------------
# RayJob: what KubeRay can honour


def test_a_rayjob_gets_kuberay_backoff_and_deadline(tmp_path):
    text = manifest("kuberay", "{backoffLimit: 2, scope: workload}", "  timeout: 2h\n")
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    spec = objects["RayJob"]["spec"]
    assert spec["backoffLimit"] == 2
    assert spec["activeDeadlineSeconds"] == 7200


def test_a_rayjob_cannot_restart_one_pod(tmp_path):
    result, _ = compile_text(tmp_path, manifest("kuberay", "{scope: pod}"))
    assert result.exit_code != 0
    assert re.search(r"job\.yaml:\d+:\d+: error\[E330\] spec\.restartPolicy\.scope", result.stderr)


def test_a_rayjob_cannot_fail_on_an_exit_code(tmp_path):
    result, _ = compile_text(tmp_path, manifest("kuberay", "{failOnExitCodes: [42]}"))
    assert result.exit_code != 0
    assert "error[E331] spec.restartPolicy.failOnExitCodes" in result.stderr


def test_a_batch_job_of_many_pods_cannot_restart_them_together(tmp_path):
    result, _ = compile_text(tmp_path, manifest("batchjob", "{scope: workload}"))
    assert result.exit_code != 0
    assert "error[E330] spec.restartPolicy.scope" in result.stderr
    one = manifest("batchjob", "{scope: workload}", types="worker: {count: 1}")
    result, _ = compile_text(tmp_path, one)
    assert result.exit_code == 0, result.stderr  # one pod: the pod is the workload


@pytest.mark.parametrize("codes", ["[0]", "[256]", "[]", "[-1]", '["42"]'])
def test_exit_codes_are_checked(tmp_path, codes):
    result, _ = compile_text(tmp_path, manifest("batchjob", f"{{failOnExitCodes: {codes}}}"))
    assert result.exit_code != 0
    assert "spec.restartPolicy.failOnExitCodes" in result.stderr


def test_an_unknown_scope_is_an_error(tmp_path):
    result, _ = compile_text(tmp_path, manifest("batchjob", "{scope: node}"))
    assert result.exit_code != 0
    assert "spec.restartPolicy.scope" in result.stderr


# ---------------------------------------------------------------------------------------------
# schemas, policies, explain


@pytest.mark.parametrize("operator", ["pytorch", "jobset", "batchjob", "kuberay"])
@pytest.mark.parametrize("restart", ["", "{backoffLimit: 2, failOnExitCodes: [42, 7]}"])
def test_the_output_validates_against_the_upstream_schemas(tmp_path, operator, restart):
    if operator == "kuberay" and restart:
        restart = "{backoffLimit: 2}"
    result, objects = compile_text(tmp_path, manifest(operator, restart, "  timeout: 1h\n"))
    assert result.exit_code == 0, result.stderr
    for obj in objects.values():
        if obj["kind"] in ("JobSet", "RayJob"):
            assert crd_errors(obj) == []
        else:
            assert core_errors(obj) == []


def test_rule_names_are_valid_jobset_rule_names(tmp_path):
    text = manifest("pytorch", "{failOnExitCodes: [42]}")
    _, objects = compile_text(tmp_path, text)
    names = [r["name"] for r in objects["JobSet"]["spec"]["failurePolicy"]["rules"]]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?", name)


def test_the_editor_schema_knows_the_vocabulary():
    result = run_cli("schema", "manifest")
    schema = json.loads(result.stdout)
    props = schema["$defs"]["RestartPolicy"]["properties"]
    assert props["scope"]["anyOf"][0]["enum"] == ["workload", "pod"]
    assert props["failOnExitCodes"]["anyOf"][0]["items"]["minimum"] == 1


def _policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: restarts}\nspec:\n"
        + textwrap.indent(textwrap.dedent(body), "  "),
        encoding="utf-8",
    )
    return path


def test_a_policy_default_sets_the_restart_vocabulary(tmp_path):
    policy = _policy(
        tmp_path, "defaults:\n  spec:\n    restartPolicy: {scope: pod, failOnExitCodes: [42]}\n"
    )
    result, objects = compile_text(tmp_path, manifest("pytorch"), "-p", str(policy))
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    assert "failurePolicy" not in jobset["spec"]
    job = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]
    assert job["backoffLimitPerIndex"] == 0
    assert run_job(job, {0: [FATAL]})[0] == "Failed"


def test_policy_rules_bind_the_restart_fields(tmp_path):
    policy = _policy(
        tmp_path,
        "rules:\n"
        "  spec.restartPolicy.backoffLimit: {max: 3}\n"
        "  spec.restartPolicy.scope: {options: [workload]}\n",
    )
    text = manifest("pytorch", "{backoffLimit: 5, scope: pod}")
    result, _ = compile_text(tmp_path, text, "-p", str(policy))
    assert "error[E401] spec.restartPolicy.backoffLimit" in result.stderr
    assert "error[E404] spec.restartPolicy.scope" in result.stderr


def test_explain_says_what_restarts(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(manifest("pytorch", "{backoffLimit: 2}"), encoding="utf-8")
    result = run_cli("explain", str(path), "--path", "spec.restartPolicy")
    assert result.exit_code == 0, result.stderr
    assert "backoffLimit: 2" in result.stdout
    assert "scope workload (pytorch's default), backoffLimit 2" in result.stdout
    result = run_cli("explain", str(path), "-o", "json")
    restart = json.loads(result.stdout)[0]["restart"]
    assert restart["scope"] == "workload" and restart["backoffLimit"] == 2


def test_per_pod_retries_on_a_huge_job_respect_the_api_servers_parallelism_limit(tmp_path):
    """batch/v1 validation: more than 100000 completions with backoffLimitPerIndex allows a
    parallelism of at most 10000."""
    huge = "worker: {count: 1, completions: 100001, parallelisms: 10001}"
    result, _ = compile_text(tmp_path, manifest("jobset", "", types=huge))
    assert "error[E332] spec.types.worker" in result.stderr
    fits = "worker: {count: 1, completions: 100001, parallelisms: 10000}"
    result, objects = compile_text(tmp_path, manifest("jobset", "", types=fits))
    assert result.exit_code == 0, result.stderr
    job = objects["JobSet"]["spec"]["replicatedJobs"][0]["template"]["spec"]
    assert (
        core_errors(
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": job}
        )
        == []
    )
    result, _ = compile_text(tmp_path, manifest("batchjob", "", types="w: {count: 100001}"))
    assert "error[E332] spec.types.w" in result.stderr
