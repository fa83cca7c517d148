"""`compile run`: a job from flags, without a manifest. One worker gives a batch/v1 Job, two or more a
RayJob whose entrypoint runs on the head with `entrypointNumCpus: 0`; both go through policies."""

from __future__ import annotations

import json
import shlex

import pytest
import yaml
from example_support import run_cli as run_cli_in
from test_upstream_schemas import core_errors, crd_errors, embedded_core_objects

from compiler.adhoc import RunRequest, default_name, synthesise_manifest

DIGEST = "sha256:" + "cd" * 32
IMAGE = "registry.example.com/train:1.10"

POLICY = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata:
  name: run-limits
spec:
  defaults:
    spec:
      timeout: 6h
  rules:
    spec.image: {pattern: 'registry\\.example\\.com/.*'}
    spec.types.*.resources.accelerators.gpu.count: {max: 2}
    spec.types.Workers.*.resources.accelerators.gpu.count: {max: 2}
"""


WORKDIR = None


@pytest.fixture(autouse=True)
def outside_the_repository(tmp_path):
    """Runs start in an empty directory, so no `.compile.yaml` of the repository applies."""
    global WORKDIR
    WORKDIR = tmp_path


def run_cli(*args: str, cwd=None):
    return run_cli_in(*args, cwd=cwd or WORKDIR)


def run_objects(*args: str, cwd=None) -> list[dict]:
    result = run_cli("run", "--dry-run", "-o", "json", *args, cwd=cwd)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["items"]


def test_one_worker_is_a_batch_job():
    [job] = run_objects(
        "--image", IMAGE, "--cpus", "2", "--memory", "8", "--", "python", "train.py", "--lr", "0.1"
    )
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert core_errors(job) == []
    assert job["spec"]["completions"] == 1 and job["spec"]["parallelism"] == 1
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["/bin/sh", "-c", "python train.py --lr 0.1"]
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "8Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
    }


def test_one_worker_with_gpus():
    [job] = run_objects("--image", IMAGE, "--gpus", "1", "--", "nvidia-smi")
    resources = job["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "1", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert resources["limits"]["nvidia.com/gpu"] == "1"


def test_three_workers_are_a_rayjob_with_the_entrypoint_on_the_head():
    [rayjob] = run_objects(
        "--image",
        IMAGE,
        "--workers",
        "3",
        "--cpus",
        "8",
        "--gpus",
        "2",
        "--queue",
        "team-a",
        "--",
        "python",
        "-m",
        "trainer",
        "--name",
        "a b",
    )
    assert (rayjob["apiVersion"], rayjob["kind"]) == ("ray.io/v1", "RayJob")
    assert crd_errors(rayjob) == []
    assert [(where, core_errors(obj)) for where, obj in embedded_core_objects(rayjob)] == [
        ("headGroupSpec", []),
        ("workerGroupSpecs[workers]", []),
    ]
    spec = rayjob["spec"]
    # the command runs whole through /bin/sh -c on the cluster (issue 13: KubeRay pastes the
    # entrypoint into its submitter's shell line)
    assert shlex.split(spec["entrypoint"]) == ["/bin/sh", "-c", " python -m trainer --name 'a b'"]
    assert spec["entrypointNumCpus"] == 0
    assert rayjob["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["resources"]["requests"] == {
        "cpu": "1",
        "memory": "4Gi",
    }  # the default size, no GPU
    [group] = spec["rayClusterSpec"]["workerGroupSpecs"]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (3, 3, 3)
    worker = group["template"]["spec"]["containers"][0]
    assert worker["resources"]["requests"] == {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"}
    assert worker["resources"]["limits"] == {"cpu": "16", "memory": "32Gi", "nvidia.com/gpu": "2"}


def test_two_workers_is_already_a_rayjob():
    [rayjob] = run_objects("--image", IMAGE, "--workers", "2", "--", "python", "x.py")
    assert rayjob["kind"] == "RayJob"
    assert rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] == 2


def test_print_manifest_shows_the_synthesised_manifest():
    result = run_cli(
        "run",
        "--image",
        IMAGE,
        "--workers",
        "3",
        "--cpus",
        "0.5",
        "--gpus",
        "1",
        "--name",
        "tune",
        "--print-manifest",
        "--",
        "python",
        "tune.py",
        "--grid",
        "a;b",
    )
    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout
        == """\
kind: AIchorManifest
apiVersion: 0.2.3
name: tune
spec:
  operator: kuberay
  image: registry.example.com/train:1.10
  command: python tune.py --grid 'a;b'
  entrypointNumCpus: 0
  types:
    Head:
      resources:
        ramRatio: 4
    Workers:
    - name: workers
      count: 3
      resources:
        cpus: 0.5
        ramRatio: 4
        accelerators:
          gpu:
            count: 1
"""
    )


def test_the_printed_manifest_compiles_to_the_same_objects(tmp_path):
    args = (
        "--image",
        IMAGE,
        "--workers",
        "4",
        "--gpus",
        "1",
        "--name",
        "same",
        "--",
        "python",
        "t.py",
    )
    printed = run_cli("run", "--print-manifest", *args)
    (tmp_path / "run.yaml").write_text(printed.stdout)
    from_file = json.loads(run_cli("-o", "json", "run.yaml", cwd=tmp_path).stdout)["items"]
    from_flags = run_objects(*args)
    for obj in from_file + from_flags:
        obj["metadata"]["annotations"].pop("manifest-compiler/source")
    assert from_file == from_flags


def test_the_command_is_kept_exactly_through_yaml():
    command = ["sh", "-c", 'echo "on: yes" && echo $HOME # not a comment', "ünïcödé", "1.10", "~"]
    [job] = run_objects("--image", IMAGE, "--", *command)
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert shlex.split(script) == command


def test_the_default_name_is_stable_and_depends_on_the_request():
    first = run_objects("--image", IMAGE, "--", "python", "a.py")[0]["metadata"]["name"]
    again = run_objects("--image", IMAGE, "--", "python", "a.py")[0]["metadata"]["name"]
    other = run_objects("--image", IMAGE, "--", "python", "b.py")[0]["metadata"]["name"]
    assert first == again != other
    assert first.startswith("python-") and len(first) == len("python-") + 8


def test_a_program_path_gives_a_valid_name():
    request = RunRequest(image=IMAGE, command=("/usr/bin/Python3.11", "x"))
    assert default_name(request).startswith("python3-11-")


def test_name_and_namespace_options_apply():
    [job] = run_objects(
        "--image", IMAGE, "--name", "my-run", "--namespace", "research", "--", "true"
    )
    assert job["metadata"]["name"] == "my-run" and job["metadata"]["namespace"] == "research"


def test_set_overrides_the_synthesised_manifest():
    [job] = run_objects("--image", IMAGE, "--set", "spec.timeout=1h", "--", "true")
    assert job["spec"]["activeDeadlineSeconds"] == 3600


def test_image_digest_pins_the_run():
    [rayjob] = run_objects(
        "--image", IMAGE, "--workers", "2", "--image-digest", DIGEST, "--", "true"
    )
    pods = rayjob["spec"]["rayClusterSpec"]
    images = {
        pods["headGroupSpec"]["template"]["spec"]["containers"][0]["image"],
        pods["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["image"],
    }
    assert images == {f"registry.example.com/train@{DIGEST}"}


def test_policies_apply_to_a_run(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    [job] = run_objects("-p", "policy.yaml", "--image", IMAGE, "--", "true", cwd=tmp_path)
    assert job["spec"]["activeDeadlineSeconds"] == 6 * 3600  # the policy's default


@pytest.mark.parametrize(
    "args, code, where",
    [
        (("--image", "docker.io/library/python:3.11"), "E405", "spec.image"),
        (
            ("--image", IMAGE, "--gpus", "4"),
            "E401",
            "spec.types.worker.resources.accelerators.gpu.count",
        ),
        (
            ("--image", IMAGE, "--workers", "3", "--gpus", "4"),
            "E401",
            "spec.types.Workers.workers.resources.accelerators.gpu.count",
        ),
    ],
)
def test_a_run_breaking_a_policy_is_refused(tmp_path, args, code, where):
    (tmp_path / "policy.yaml").write_text(POLICY)
    result = run_cli(
        "run", "-p", "policy.yaml", *args, "--dry-run", "--", "python", "t.py", cwd=tmp_path
    )
    assert result.exit_code == 1
    assert f"error[{code}] {where}:" in result.stderr
    assert "<compile run>:" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("--image", IMAGE, "--workers", "0", "--", "true"),
        ("--image", IMAGE, "--cpus", "0", "--", "true"),
        ("--image", IMAGE, "--gpus", "-1", "--", "true"),
        ("--image", IMAGE, "--memory", "0", "--", "true"),
        ("--image", IMAGE, "--workers", "two", "--", "true"),
        ("--image", IMAGE),
        ("--", "true"),
    ],
)
def test_bad_flags_are_usage_errors(args):
    result = run_cli("run", "--dry-run", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_a_bad_name_is_a_diagnostic_not_a_traceback():
    result = run_cli("run", "--dry-run", "--image", IMAGE, "--name", "Not_A_Name", "--", "true")
    assert result.exit_code == 1
    assert "error[E301]" in result.stderr


def test_options_after_the_command_belong_to_the_command():
    [job] = run_objects("--image", IMAGE, "python", "t.py", "--workers", "3")
    assert job["kind"] == "Job"
    assert (
        job["spec"]["template"]["spec"]["containers"][0]["command"][2] == "python t.py --workers 3"
    )


def test_synthesised_manifests_carry_no_secret_or_value_beyond_the_flags():
    manifest = synthesise_manifest(
        RunRequest(image=IMAGE, command=("true",), workers=1, project="team-a")
    )
    assert manifest == {
        "kind": "AIchorManifest",
        "apiVersion": "0.2.3",
        "name": manifest["name"],
        "project": "team-a",
        "spec": {
            "operator": "batchjob",
            "image": IMAGE,
            "command": "true",
            "types": {"worker": {"count": 1, "resources": {"ramRatio": 4}}},
        },
    }
    assert (
        yaml.safe_load(
            run_cli(
                "run", "--image", IMAGE, "--project", "team-a", "--print-manifest", "--", "true"
            ).stdout
        )["project"]
        == "team-a"
    )


def test_submitting_without_a_cluster_is_an_environment_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = run_cli("run", "--image", IMAGE, "--", "true")
    assert result.exit_code == 3
    assert "no reachable cluster" in result.stderr


def test_logs_without_watch_is_a_usage_error():
    result = run_cli("run", "--image", IMAGE, "--logs", "--", "true")
    assert result.exit_code == 2
    assert "--watch" in result.stderr


KUBERAY = """\
kind: AIchorManifest
spec:
  operator: kuberay
  image: img
  command: python x.py
  entrypointNumCpus: {value}
  types:
    Head: {{resources: {{cpus: 1, ramRatio: 2}}}}
"""


def test_a_written_manifest_may_set_entrypoint_num_cpus(tmp_path):
    (tmp_path / "k.yaml").write_text(KUBERAY.format(value="0.5"))
    result = run_cli("-o", "json", "k.yaml", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    [rayjob] = json.loads(result.stdout)["items"]
    assert rayjob["spec"]["entrypointNumCpus"] == 0.5
    assert crd_errors(rayjob) == []


@pytest.mark.parametrize("value, code", [("-1", "E104"), ("yes", "E102")])
def test_a_bad_entrypoint_num_cpus_is_a_diagnostic(tmp_path, value, code):
    (tmp_path / "k.yaml").write_text(KUBERAY.format(value=value))
    result = run_cli("k.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert f"k.yaml:6:22: error[{code}] spec.entrypointNumCpus:" in result.stderr


def test_entrypoint_num_cpus_has_no_effect_outside_kuberay():
    result = run_cli(
        "run", "--dry-run", "--image", IMAGE, "--set", "spec.entrypointNumCpus=1", "--", "true"
    )
    assert result.exit_code == 0
    assert "warning[W101] spec.entrypointNumCpus" in result.stderr
    assert "entrypointNumCpus" not in result.stdout


# ---------------------------------------------------------------------------------------------
# --operator (issue 24: with one worker `run` made a batchjob, which a team policy may forbid)


def test_operator_jobset_gives_a_jobset_of_one_pod_per_worker():
    [jobset] = run_objects("--image", IMAGE, "--operator", "jobset", "--workers", "3", "--", "t")
    assert jobset["kind"] == "JobSet"
    [replicated] = jobset["spec"]["replicatedJobs"]
    assert replicated["replicas"] == 3
    assert replicated["template"]["spec"]["completions"] == 1


def test_operator_jobset_with_one_worker_is_a_jobset():
    [jobset] = run_objects("--image", IMAGE, "--operator", "jobset", "--", "t")
    assert jobset["kind"] == "JobSet"


def test_operator_batchjob_of_several_workers_is_one_indexed_job():
    [job] = run_objects("--image", IMAGE, "--operator", "batchjob", "--workers", "4", "--", "t")
    assert job["kind"] == "Job"
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (4, 4)


def test_operator_kuberay_with_one_worker_is_a_rayjob():
    [rayjob] = run_objects("--image", IMAGE, "--operator", "kuberay", "--", "t")
    assert rayjob["kind"] == "RayJob"


def test_the_example_team_policy_accepts_run_operator_jobset(tmp_path):
    """examples/policies allow team-a jobset, pytorch and kuberay, not batchjob."""
    from example_support import REPO

    image = "registry.example.com/team-a/x:1"
    args = ("run", "--image", image, "--project", "team-a", "--dry-run")
    policies = ("-p", str(REPO / "examples" / "policies"))
    refused = run_cli(*args, *policies, "--", "t")
    assert refused.exit_code == 1 and "spec.operator" in refused.stderr, refused.stderr
    accepted = run_cli(*args, *policies, "--operator", "jobset", "--", "t")
    assert accepted.exit_code == 0, accepted.stderr


def test_run_operators_are_the_ones_the_manifest_knows():
    from compiler.adhoc import RUN_OPERATORS
    from compiler.cli.build import RUN_OPERATORS as OFFERED
    from compiler.model.manifest import SUPPORTED_OPERATORS

    assert OFFERED == RUN_OPERATORS and set(RUN_OPERATORS) <= set(SUPPORTED_OPERATORS)
