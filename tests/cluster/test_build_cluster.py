"""The build Job and the `compile run` objects against the real control plane of testbed/:
server-side dry runs (strict field validation), a real `compile run` submission, and
`compile image --builder kaniko --submit` following its Job to the end."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from example_support import run_cli
from test_build import DIGEST, FAKE_DOCKER, app_repo, git, git_identity  # noqa: F401 - git_identity is an autouse fixture

from compiler.image.kaniko import kaniko_job
from compiler.image.plan import BuildPlan

IMAGE = "registry.example.com/train:1.10"


def server_dry_run(control_plane, objects: list[dict], namespace: str) -> str:
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    done = control_plane.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        "-",
        input=yaml.safe_dump_all(objects),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_kaniko_build_job_passes_a_server_side_dry_run(control_plane, namespace):
    plan = BuildPlan(
        repository="registry.example.com/team/trainer",
        tag="0a1b2c3",
        context="app",
        dockerfile="app/build/Dockerfile",
        build_args=(("PYTHON_VERSION", "3.11"),),
        target="runtime",
        commit="0a1b2c3" + "d" * 33,
        remote_url="https://github.com/org/repo.git",
        remote_branch="main",
    )
    out = server_dry_run(control_plane, [kaniko_job(plan)], namespace)
    assert "job.batch/build-trainer-0a1b2c3 serverside-applied (server dry run)" in out


@pytest.mark.parametrize("workers, kind", [("1", "job.batch"), ("3", "rayjob.ray.io")])
def test_run_objects_pass_a_server_side_dry_run(control_plane, namespace, workers, kind, tmp_path):
    result = run_cli(
        "run",
        "--dry-run",
        "-o",
        "json",
        "--image",
        IMAGE,
        "--workers",
        workers,
        "--gpus",
        "1",
        "--name",
        "dry",
        "--",
        "python",
        "train.py",
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.stderr
    out = server_dry_run(control_plane, json.loads(result.stdout)["items"], namespace)
    assert f"{kind}/dry serverside-applied (server dry run)" in out


def test_compile_run_submits_and_records_the_submission(
    control_plane, namespace, monkeypatch, tmp_path
):
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    result = run_cli(
        "run",
        "--image",
        IMAGE,
        "--workers",
        "3",
        "--namespace",
        namespace,
        "--",
        "python",
        "t.py",
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.stderr
    [rayjob] = control_plane.kubectl_json("get", "rayjobs", "-n", namespace)["items"]
    assert rayjob["metadata"]["name"].startswith("python-")
    annotations = rayjob["metadata"]["annotations"]
    assert annotations["manifest-compiler/image"] == IMAGE
    assert "manifest-compiler/submitted-by" in annotations
    assert rayjob["spec"]["entrypointNumCpus"] == 0
    assert rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] == 3


def test_compile_run_watches_a_job_to_its_end(control_plane, namespace, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    result = run_cli(
        "run",
        "--image",
        IMAGE,
        "--namespace",
        namespace,
        "--name",
        "once",
        "--watch",
        "--",
        "true",
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.stderr
    assert "Succeeded" in result.stdout
    job = control_plane.kubectl_json("get", "job", "once", "-n", namespace)
    assert job["status"].get("succeeded") == 1


def test_compile_run_with_a_taken_name_is_refused(control_plane, namespace, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    args = (
        "run",
        "--image",
        IMAGE,
        "--namespace",
        namespace,
        "--name",
        "twice",
        "--",
        "sleep",
        "1",
    )
    assert run_cli(*args, cwd=tmp_path).exit_code == 0
    again = run_cli(*args, cwd=tmp_path)
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_kaniko_submit_applies_and_follows_the_build_job(
    control_plane, namespace, monkeypatch, tmp_path
):
    """kwok finishes the build pod without a termination message: the Job is applied and followed
    to Succeeded, and the missing digest is reported rather than invented."""
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    work = app_repo(tmp_path)
    short = git(work, "rev-parse", "--short", "HEAD")
    result = run_cli(
        "image",
        "manifest.yaml",
        "--builder",
        "kaniko",
        "--submit",
        "--namespace",
        namespace,
        cwd=work,
    )
    assert result.exit_code == 1, result.stderr
    assert "error[E607]" in result.stderr and "no pod reported a digest" in result.stderr
    job = control_plane.kubectl_json("get", "job", f"build-trainer-{short}", "-n", namespace)
    assert job["status"].get("succeeded") == 1
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--target=runtime"


def test_submit_records_the_pinned_image(control_plane, namespace, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    from test_build import DIGEST, PLAIN_MANIFEST

    (tmp_path / "manifest.yaml").write_text(
        PLAIN_MANIFEST.replace("image: simple", "image: registry.example.com/simple:v1")
    )
    result = run_cli(
        "submit",
        "manifest.yaml",
        "--image-digest",
        DIGEST,
        "--namespace",
        namespace,
        "--name",
        "pinned",
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.stderr
    job = control_plane.kubectl_json("get", "job", "pinned", "-n", namespace)
    pinned = f"registry.example.com/simple@{DIGEST}"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == pinned
    assert job["metadata"]["annotations"]["manifest-compiler/image"] == pinned
    assert job["metadata"]["annotations"]["manifest-compiler/image-digest"] == DIGEST


def test_submit_build_builds_then_submits_the_pinned_image(
    control_plane, namespace, monkeypatch, tmp_path
):
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(FAKE_DOCKER)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker-calls.jsonl"))
    monkeypatch.setenv("FAKE_DOCKER_DIGEST", DIGEST)
    work = app_repo(tmp_path)
    short = git(work, "rev-parse", "--short", "HEAD")

    result = run_cli(
        "submit", "manifest.yaml", "--build", "--namespace", namespace, "--name", "built", cwd=work
    )

    assert result.exit_code == 0, result.stderr
    assert f"built registry.example.com/team/trainer:{short}@{DIGEST}" in result.stderr
    [jobset] = control_plane.kubectl_json("get", "jobsets", "-n", namespace)["items"]
    containers = [
        c
        for rjob in jobset["spec"]["replicatedJobs"]
        for c in rjob["template"]["spec"]["template"]["spec"]["containers"]
    ]
    assert {c["image"] for c in containers} == {f"registry.example.com/team/trainer@{DIGEST}"}
    assert (
        jobset["metadata"]["annotations"]["manifest-compiler/image"]
        == f"registry.example.com/team/trainer@{DIGEST}"
    )


def test_submit_build_takes_one_manifest(tmp_path):
    result = run_cli("submit", "a.yaml", "b.yaml", "--build", cwd=tmp_path)
    assert result.exit_code == 2
