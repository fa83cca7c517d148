"""Issue 13, "rejected later instead of now" and "crashes": what the API server, the kubelet, Kueue
or a controller would refuse is a positioned diagnostic at compile time; one file's failure never
hides another's; nothing ends in a traceback. Each case compiled with exit 0 (or crashed) before.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from example_support import run_cli

BASE = """\
name: job
spec:
  operator: {operator}
  image: img
  command: run
{extra}  types:
{types}"""

JOBSET_TYPES = "    worker: {count: 2, resources: {cpus: 1, ramRatio: 2}}\n"
RAY_TYPES = "    Head: {resources: {cpus: 1, ramRatio: 2}}\n"


def manifest(tmp_path: Path, extra: str = "", operator="jobset", types=JOBSET_TYPES, name="job"):
    path = tmp_path / f"{name}.yaml"
    text = BASE.format(operator=operator, extra=textwrap.indent(extra, "  "), types=types)
    path.write_text(text, encoding="utf-8")
    return path


def diagnostics(stderr: str) -> list[tuple[str, str, str]]:
    """(file:line:col, code, field path) of every diagnostic line."""
    found = re.findall(r"^(\S+:\d+:\d+): (?:error|warning)\[(\w+)\] (\S*)", stderr, re.M)
    return [(where, code, path.rstrip(":")) for where, code, path in found]


def codes(result) -> set[str]:
    return {code for _, code, _ in diagnostics(result.stderr)}


def refused(path: Path, code: str, field: str | None = None):
    result = run_cli(str(path))
    assert result.exit_code == 1, result.stdout[:300]
    assert result.stdout == "", "nothing is emitted"
    found = diagnostics(result.stderr)
    assert any(c == code and (field is None or p == field) for _, c, p in found), result.stderr
    for where, c, _ in found:
        if c == code:
            assert where.startswith(str(path)) or where.startswith("<--set"), where
    return result


# ---------------------------------------------------------------------------------------------
# 14: empty values, labels, names, mount paths, size


@pytest.mark.parametrize(
    "extra, field",
    [
        ("", "spec.image"),
        ("", "spec.command"),
        (
            "secrets: {creds: {secretName: '', mountPath: /etc/creds}}\n",
            "spec.secrets.creds.secretName",
        ),
        (
            "storage: {attachExistingPVCs: [{name: ' ', mountPoint: /data}]}\n",
            "spec.storage.attachExistingPVCs[0].name",
        ),
        ("labels: {'': x}\n", "spec.labels"),
    ],
)
def test_empty_values_are_refused(tmp_path, extra, field):
    path = manifest(tmp_path, extra)
    if field in ("spec.image", "spec.command"):
        key = field.split(".")[-1]
        path.write_text(
            path.read_text().replace(f"{key}: {'img' if key == 'image' else 'run'}", f"{key}: ''")
        )
    refused(path, "E309", field if field in ("spec.image", "spec.command") else None)


@pytest.mark.parametrize(
    "extra",
    [
        "labels: {'bad key': x}\n",
        "labels: {team: 'has space'}\n",
        "labels: {team: '-starts-with-dash'}\n",
        "labels: {'Example.com/x': y}\n",
        f"labels: {{team: {'a' * 64}}}\n",
        "annotations: {'no/good/key': x}\n",
    ],
)
def test_invalid_label_keys_and_values_are_refused(tmp_path, extra):
    refused(manifest(tmp_path, extra), "E310")


def test_valid_labels_pass(tmp_path):
    extra = "labels: {app.kubernetes.io/team: ml, tier: '', v: 1.2_x}\n"
    result = run_cli(str(manifest(tmp_path, extra)))
    assert result.exit_code == 0, result.stderr


def test_two_secrets_whose_volume_names_collide_are_refused(tmp_path):
    """`Creds` and `creds` both become the volume `secret-creds`: the API server refuses a pod
    with two volumes of one name."""
    extra = (
        "secrets:\n"
        "  Creds: {secretName: a, mountPath: /etc/a}\n"
        "  creds: {secretName: b, mountPath: /etc/b}\n"
    )
    refused(manifest(tmp_path, extra), "E311", "spec.secrets.creds")


@pytest.mark.parametrize(
    "mount",
    [
        "''",
        "relative/dir",
        "/",
        "/var/run/secrets/kubernetes.io/serviceaccount",
        "/var/run/secrets/kubernetes.io/serviceaccount/x",
    ],
)
def test_bad_mount_paths_are_refused(tmp_path, mount):
    extra = f"secrets: {{creds: {{secretName: a, mountPath: {mount}}}}}\n"
    refused(manifest(tmp_path, extra), "E312", "spec.secrets.creds.mountPath")


def test_an_object_over_the_api_servers_limit_is_refused_before_it_is_built(tmp_path):
    """100 types x 5,000 variables would be a ~36 MB JobSet; etcd stores at most 1.5 MiB."""
    env = "env:\n" + "".join(f"  V{i}: x\n" for i in range(5000))
    types = "".join(
        f"    t{i}: {{count: 1, resources: {{cpus: 1, ramRatio: 1}}}}\n" for i in range(100)
    )
    refused(manifest(tmp_path, env, types=types), "E313", "spec.types")


def test_annotations_leave_room_for_the_ones_compile_and_submit_write(tmp_path):
    """256 KiB is the API server's limit for all of an object's annotations; compile adds the
    source, digests and version, submit the submitter, commit and image (issue 29)."""
    near_the_limit = "x" * (256 * 1024 - 1024)
    result = refused(manifest(tmp_path, f"annotations: {{note: {near_the_limit}}}\n"), "E313")
    assert "compile and submit keep 4096" in result.stderr
    well_within = "x" * (200 * 1024)
    fine = run_cli(str(manifest(tmp_path, f"annotations: {{note: {well_within}}}\n", name="ok")))
    assert fine.exit_code == 0, fine.stderr[:300]


@pytest.mark.parametrize("count", [1_000_000, 2_147_483_647])
def test_tf_worker_count_is_bounded_by_what_fits(tmp_path, count):
    """TF_CONFIG lists every worker: a million is 35 MB in each pod template."""
    types = f"    worker: {{count: {count}, resources: {{cpus: 1, ramRatio: 1}}}}\n"
    refused(manifest(tmp_path, operator="tf", types=types), "E313", "spec.types.worker.count")


def test_a_large_but_fitting_tf_group_compiles(tmp_path):
    types = "    worker: {count: 2000, resources: {cpus: 1, ramRatio: 1}}\n"
    result = run_cli(str(manifest(tmp_path, operator="tf", types=types)))
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout) < 1536 * 1024


# ---------------------------------------------------------------------------------------------
# 12: /dev/shm, no-effect pod counts


def test_shm_above_the_memory_limit_is_an_error(tmp_path):
    """A memory-backed emptyDir counts against the container's memory limit (Kubernetes
    "emptyDir ... medium: Memory": files count against the container's memory limit)."""
    types = "    worker: {count: 1, resources: {cpus: 2, ramRatio: 4, shmSizeGB: 9}}\n"
    refused(manifest(tmp_path, types=types), "E308", "spec.types.worker.resources.shmSizeGB")
    types = "    worker: {count: 1, resources: {cpus: 2, ramRatio: 4, shmSizeGB: 8}}\n"
    assert run_cli(str(manifest(tmp_path, types=types))).exit_code == 0


@pytest.mark.parametrize("operator", ["pytorch", "xgboost", "jax", "tf"])
def test_completions_on_one_pod_per_job_operators_warn(tmp_path, operator):
    name = "Worker" if operator in ("pytorch", "xgboost") else "worker"
    types = f"    {name}: {{count: 2, completions: 3, parallelisms: 2, resources: {{cpus: 1, ramRatio: 1}}}}\n"
    if operator in ("pytorch", "xgboost"):
        types = "    Master: {count: 1, resources: {cpus: 1, ramRatio: 1}}\n" + types
    result = run_cli(str(manifest(tmp_path, operator=operator, types=types)))
    assert result.exit_code == 0, result.stderr
    paths = {p for _, c, p in diagnostics(result.stderr) if c == "W101"}
    assert {f"spec.types.{name}.completions", f"spec.types.{name}.parallelisms"} <= paths


def test_jax_multi_host_count_must_be_whole_slices(tmp_path):
    tpu = "accelerators: {tpu: {type: tpu-v5-lite-podslice, topology: 4x4, tpuChipsCount: 4}}"
    types = f"    worker: {{count: 6, resources: {{cpus: 1, ramRatio: 1, {tpu}}}}}\n"
    refused(manifest(tmp_path, operator="jax", types=types), "E314", "spec.types.worker.count")


# ---------------------------------------------------------------------------------------------
# 11: Kueue pod sets of a RayJob


def _ray_workers(names: list[str]) -> str:
    groups = "".join(
        f"      - {{name: {n}, count: 1, resources: {{cpus: 1, ramRatio: 1}}}}\n" for n in names
    )
    return RAY_TYPES + "    Workers:\n" + groups


def test_rayjob_pod_sets_count_the_submitter(tmp_path):
    """Kueue's RayJob pod sets are the head, each worker group and the submitter Job in
    K8sJobMode (kueue pkg/controller/jobs/rayjob/rayjob_controller.go expectedPodSetsCount);
    a Workload holds at most 18 (apis/kueue/v1beta2/workload_types.go MaxItems=18)."""
    types = _ray_workers([f"g{i}" for i in range(17)])
    refused(manifest(tmp_path, "queue: q\n", operator="kuberay", types=types), "E303")
    types = _ray_workers([f"g{i}" for i in range(16)])
    assert (
        run_cli(str(manifest(tmp_path, "queue: q\n", operator="kuberay", types=types))).exit_code
        == 0
    )


@pytest.mark.parametrize("group", ["head", "submitter"])
def test_a_worker_group_named_like_a_kueue_pod_set_is_refused(tmp_path, group):
    """kueue pkg/controller/jobs/raycluster/common.go: `"head" is reserved for the head group`;
    the submitter's pod set is named "submitter" (rayjob_controller.go submitterJobPodSetName)."""
    types = _ray_workers([group])
    refused(
        manifest(tmp_path, operator="kuberay", types=types),
        "E307",
        f"spec.types.Workers.{group}.name",
    )


# ---------------------------------------------------------------------------------------------
# 15: crashes


def test_a_number_inside_runtime_env_compiles(tmp_path):
    extra = "runtimeEnv:\n  config: {setup_timeout_seconds: 600}\n  env_vars: {STAGE: 'y'}\n"
    path = manifest(tmp_path, extra, operator="kuberay", types=RAY_TYPES)
    result = run_cli("-o", "json", str(path))
    assert result.exit_code == 0, result.stderr
    import yaml

    [rayjob] = json.loads(result.stdout)["items"]
    runtime_env = yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"])
    assert runtime_env == {"config": {"setup_timeout_seconds": 600}, "env_vars": {"STAGE": "y"}}


def test_one_files_crash_does_not_hide_the_others(tmp_path, monkeypatch):
    """An unexpected exception while compiling one file is that file's E339; `check` still
    reports every other file."""
    import compiler.pipeline as pipeline

    real = pipeline.compile_document

    def crashing(document, *args):
        if document.file.endswith("crash.yaml"):
            raise RuntimeError("boom")
        return real(document, *args)

    monkeypatch.setattr(pipeline, "compile_document", crashing)
    crash = manifest(tmp_path, name="crash")
    broken = manifest(tmp_path, "labels: {'bad key': x}\n", name="broken")
    fine = manifest(tmp_path, name="fine")
    result = run_cli("check", str(crash), str(broken), str(fine))
    assert result.exit_code == 1
    report = result.stdout + result.stderr  # check reports on stdout
    found = diagnostics(report)
    assert any(w.startswith(str(crash)) and c == "E339" for w, c, _ in found), report
    assert any(w.startswith(str(broken)) and c == "E310" for w, c, _ in found), report
    assert "Traceback" not in report


def test_a_very_deep_set_path_is_a_diagnostic(tmp_path):
    path = manifest(tmp_path)
    deep = "spec." + ".".join(["a"] * 500) + "=1"
    result = run_cli("--set", deep, str(path))
    assert result.exit_code == 1
    assert "E207" in codes(result)


# ---------------------------------------------------------------------------------------------
# 10: the cluster's GPU product label (SPEC 2.6)

GPU_TYPES = (
    "    worker: {count: 1, resources: {cpus: 1, ramRatio: 1,"
    " accelerators: {gpu: {count: 1, product: nvidia-tesla-t4}}}}\n"
)


def _policy(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.policy.yaml"
    path.write_text(
        f"apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata:\n  name: {name}\n{body}",
        encoding="utf-8",
    )
    return path


def _node_selector(stdout: str) -> dict:
    [jobset] = json.loads(stdout)["items"]
    return jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"][
        "nodeSelector"
    ]


def test_gpu_product_label_defaults_to_nvidia_feature_discovery(tmp_path):
    result = run_cli("-o", "json", str(manifest(tmp_path, types=GPU_TYPES)))
    assert _node_selector(result.stdout) == {"nvidia.com/gpu.product": "nvidia-tesla-t4"}


def test_a_global_policy_names_the_clusters_gpu_product_label(tmp_path):
    """On GKE the product is the node label cloud.google.com/gke-accelerator."""
    gke = _policy(
        tmp_path, "gke", "spec:\n  cluster: {gpuProductLabel: cloud.google.com/gke-accelerator}\n"
    )
    path = manifest(tmp_path, types=GPU_TYPES)
    result = run_cli("-o", "json", "-p", str(gke), str(path))
    assert result.exit_code == 0, result.stderr
    assert _node_selector(result.stdout) == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}


def test_cluster_facts_in_a_project_policy_are_refused(tmp_path):
    body = "  project: team-a\nspec:\n  cluster: {gpuProductLabel: example.com/gpu}\n"
    policy = _policy(tmp_path, "team", body)
    path = manifest(tmp_path, "project: team-a\n", types=GPU_TYPES)
    path.write_text(
        path.read_text()
        .replace("  project: team-a\n", "")
        .replace("name: job\n", "name: job\nproject: team-a\n")
    )
    result = run_cli("-p", str(policy), str(path))
    assert result.exit_code == 1
    assert "E315" in codes(result), result.stderr


def test_two_global_policies_disagreeing_on_the_label_are_refused(tmp_path):
    one = _policy(
        tmp_path, "one", "spec:\n  cluster: {gpuProductLabel: cloud.google.com/gke-accelerator}\n"
    )
    two = _policy(tmp_path, "two", "spec:\n  cluster: {gpuProductLabel: nvidia.com/gpu.product}\n")
    result = run_cli("-p", str(one), "-p", str(two), str(manifest(tmp_path, types=GPU_TYPES)))
    assert result.exit_code == 1
    assert "E316" in codes(result), result.stderr


def test_policy_pod_totals_count_every_host_of_a_tpu_slice(tmp_path):
    """KubeRay makes replicas x numOfHosts pods of a multi-host group (Kueue counts them so too:
    kueue pkg/controller/jobs/raycluster/common.go effectiveWorkerCount)."""
    limits = _policy(tmp_path, "small", "spec:\n  limits: {pods: 10}\n")
    tpu = "accelerators: {tpu: {type: tpu-v5-lite-podslice, topology: 4x4, tpuChipsCount: 4}}"
    types = RAY_TYPES + (
        f"    Workers:\n      - {{name: tpu, count: 3, resources: {{cpus: 1, ramRatio: 1, {tpu}}}}}\n"
    )
    result = run_cli("-p", str(limits), str(manifest(tmp_path, operator="kuberay", types=types)))
    assert result.exit_code == 1
    assert "E411" in codes(result), result.stderr
