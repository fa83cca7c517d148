"""`compile image` and `--image-digest`: git checks on real temporary repositories, the docker path
through a test double of the `docker` executable (tests/fixtures/fake-docker), and the kaniko build
Job validated against the Kubernetes schema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from example_support import REPO, run_cli
from test_upstream_schemas import core_errors

from compiler.diagnostics import Location
from compiler.image.git import (
    GitUnavailable,
    check_git,
    kaniko_git_context,
    parse_remote_branches,
    read_git_facts,
)
from compiler.image.kaniko import KANIKO_IMAGE, build_job_name, digest_from_pod, kaniko_job
from compiler.image.plan import BuildPlan, dockerfile_candidates
from compiler.imageref import Reference, is_digest, parse_reference, pinned, with_registry

FAKE_DOCKER = REPO / "tests" / "fixtures" / "fake-docker"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "0123456789abcdef" * 4

MANIFEST = """\
kind: AIchorManifest
apiVersion: 0.2.3
name: trainer
builder:
  image: trainer
  context: app
  dockerfile: ./build/Dockerfile
  buildArgs:
    PYTHON_VERSION: "3.11"
    USE_CUDA: true
  target: runtime
  registry: registry.example.com/team
spec:
  operator: jobset
  image: trainer
  command: python -u main.py
  types:
    worker-heavy:
      count: 1
      resources: {cpus: 4, ramRatio: 2}
    worker:
      count: 3
      resources: {cpus: 1, ramRatio: 2}
"""

PLAIN_MANIFEST = """\
kind: AIchorManifest
apiVersion: 0.2.2
builder:
  image: simple
  dockerfile: ./Dockerfile
  context: .
spec:
  operator: batchjob
  image: simple
  command: python main.py
  types:
    worker:
      resources: {cpus: 1, ramRatio: 2}
"""


# ---------------------------------------------------------------------------------------------
# temporary repositories


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(monkeypatch, tmp_path):
    """Commits work without any global git configuration of the machine."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


def make_repo(tmp_path: Path, files: dict[str, str], push: bool = True) -> Path:
    """A work tree with one commit, whose remote `origin` is a bare repository on disk."""
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    git(tmp_path, "init", "--quiet", "-b", "main", str(work))
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "first")
    git(work, "remote", "add", "origin", str(remote))
    if push:
        git(work, "push", "--quiet", "origin", "main")
    return work


def app_repo(tmp_path: Path, manifest: str = MANIFEST, push: bool = True) -> Path:
    return make_repo(
        tmp_path,
        {
            "manifest.yaml": manifest,
            "Dockerfile": "FROM scratch\n",
            "app/build/Dockerfile": "FROM scratch AS runtime\n",
            "app/main.py": "print('hi')\n",
        },
        push=push,
    )


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    """`docker` on PATH is the test double; returns a function giving its recorded calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(FAKE_DOCKER)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "docker-calls.jsonl"
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("FAKE_DOCKER_DIGEST", DIGEST)

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


# ---------------------------------------------------------------------------------------------
# git checks


def test_a_clean_pushed_commit_passes_the_checks(tmp_path):
    work = app_repo(tmp_path)
    facts = read_git_facts(str(work / "app"))
    assert facts.root == str(work)
    assert facts.commit == git(work, "rev-parse", "HEAD")
    assert facts.short_commit == git(work, "rev-parse", "--short", "HEAD")
    assert not facts.dirty
    assert facts.remote_branches == ("origin/main",)
    assert facts.remote_url("origin") == str(tmp_path / "remote.git")
    assert check_git(facts, allow_dirty=False, where=Location("manifest.yaml")) == []


def test_a_modified_file_makes_the_tree_dirty(tmp_path):
    work = app_repo(tmp_path)
    (work / "app" / "main.py").write_text("print('changed')\n")
    facts = read_git_facts(str(work))
    assert facts.dirty
    problems = check_git(facts, allow_dirty=False, where=Location("manifest.yaml", 3, 1))
    assert [(p.code, p.location) for p in problems] == [("E602", Location("manifest.yaml", 3, 1))]
    assert "app/main.py" in problems[0].message and "--allow-dirty" in problems[0].message


def test_an_untracked_file_makes_the_tree_dirty(tmp_path):
    work = app_repo(tmp_path)
    (work / "notes.txt").write_text("not committed\n")
    problems = check_git(read_git_facts(str(work)), allow_dirty=False, where=Location("m.yaml"))
    assert [p.code for p in problems] == ["E602"]
    assert "notes.txt" in problems[0].message


def test_a_commit_on_no_remote_branch_is_refused(tmp_path):
    work = app_repo(tmp_path)
    (work / "app" / "main.py").write_text("print('next')\n")
    git(work, "commit", "--quiet", "-am", "second, not pushed")
    facts = read_git_facts(str(work))
    assert not facts.dirty and facts.remote_branches == ()
    problems = check_git(facts, allow_dirty=False, where=Location("m.yaml"))
    assert [p.code for p in problems] == ["E603"]
    assert facts.short_commit in problems[0].message


def test_a_repository_without_remote_has_the_commit_on_no_remote_branch(tmp_path):
    work = app_repo(tmp_path, push=False)
    assert [p.code for p in check_git(read_git_facts(str(work)), False, Location("m.yaml"))] == [
        "E603"
    ]


def test_allow_dirty_skips_both_checks(tmp_path):
    work = app_repo(tmp_path, push=False)
    (work / "app" / "main.py").write_text("print('changed')\n")
    facts = read_git_facts(str(work))
    assert facts.dirty and not facts.remote_branches
    assert check_git(facts, allow_dirty=True, where=Location("m.yaml")) == []


def test_a_directory_outside_any_repository_is_reported(tmp_path):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    with pytest.raises(GitUnavailable):
        read_git_facts(str(lonely))


def test_remote_branch_aliases_are_not_branches():
    output = "  origin/HEAD -> origin/main\n  origin/main\n  upstream/feature/x\n"
    assert parse_remote_branches(output) == ("origin/main", "upstream/feature/x")


@pytest.mark.parametrize(
    "url, context",
    [
        ("https://github.com/org/repo.git", "git://github.com/org/repo.git#refs/heads/main#C"),
        (
            "https://user@gitlab.example.com/org/repo",
            "git://gitlab.example.com/org/repo#refs/heads/main#C",
        ),
        ("git@github.com:org/repo.git", "git://github.com/org/repo.git#refs/heads/main#C"),
        ("ssh://git@github.com/org/repo.git", "git://github.com/org/repo.git#refs/heads/main#C"),
    ],
)
def test_kaniko_git_context_from_remote_urls(url, context):
    assert kaniko_git_context(url, "main", "C") == context


# ---------------------------------------------------------------------------------------------
# image references and pinning


@pytest.mark.parametrize(
    "image, reference",
    [
        ("trainer", Reference("trainer")),
        ("trainer:1.10", Reference("trainer", "1.10")),
        ("localhost:5000/team/trainer", Reference("localhost:5000/team/trainer")),
        ("localhost:5000/team/trainer:v2", Reference("localhost:5000/team/trainer", "v2")),
        (f"reg.io/trainer:v2@{DIGEST}", Reference("reg.io/trainer", "v2", DIGEST)),
    ],
)
def test_image_references_split_into_repository_tag_and_digest(image, reference):
    assert parse_reference(image) == reference
    assert str(reference) == image


def test_the_registry_prefix_is_added_once():
    assert (
        with_registry("trainer", "registry.example.com/team/")
        == "registry.example.com/team/trainer"
    )
    assert (
        with_registry("registry.example.com/team/trainer", "registry.example.com/team")
        == "registry.example.com/team/trainer"
    )
    assert with_registry("trainer", None) == "trainer"


def test_pinning_drops_the_tag_and_any_older_digest():
    assert pinned("trainer:1.0", DIGEST) == f"trainer@{DIGEST}"
    assert pinned(f"reg.io/trainer@{OTHER_DIGEST}", DIGEST, "reg.io") == f"reg.io/trainer@{DIGEST}"


@pytest.mark.parametrize(
    "text, valid",
    [
        (DIGEST, True),
        ("sha256:" + "AB" * 32, False),
        ("sha256:" + "ab" * 31, False),
        ("sha512:" + "ab" * 32, False),
        ("ab" * 32, False),
        ("", False),
    ],
)
def test_digest_syntax(text, valid):
    assert is_digest(text) is valid


def test_dockerfile_is_looked_up_in_the_context_first_then_from_the_root():
    assert dockerfile_candidates("app", "./build/Dockerfile") == (
        "app/build/Dockerfile",
        "build/Dockerfile",
    )
    assert dockerfile_candidates(".", "./Dockerfile") == ("Dockerfile",)


# ---------------------------------------------------------------------------------------------
# compile image --builder docker (through the fake docker)


def test_docker_build_pushes_the_commit_tag_and_reports_the_digest(tmp_path, fake_docker):
    work = app_repo(tmp_path)
    short = git(work, "rev-parse", "--short", "HEAD")
    digest_file = tmp_path / "digest.txt"
    result = run_cli("image", "manifest.yaml", "--output-digest", str(digest_file), cwd=work)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"registry.example.com/team/trainer:{short}@{DIGEST}\n"
    assert digest_file.read_text() == DIGEST + "\n"
    [call] = fake_docker()
    metadata = call["args"][call["args"].index("--metadata-file") + 1]
    assert call["args"] == [
        "buildx",
        "build",
        "--push",
        "--metadata-file",
        metadata,
        "-t",
        f"registry.example.com/team/trainer:{short}",
        "-f",
        "app/build/Dockerfile",
        "--build-arg",
        "PYTHON_VERSION=3.11",
        "--build-arg",
        "USE_CUDA=true",
        "--target",
        "runtime",
        "app",
    ]
    assert call["cwd"] == str(work)


def test_docker_build_of_a_plain_manifest(tmp_path, fake_docker):
    work = app_repo(tmp_path, PLAIN_MANIFEST)
    short = git(work, "rev-parse", "--short", "HEAD")
    result = run_cli("image", str(work / "manifest.yaml"), cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"simple:{short}@{DIGEST}\n"
    [call] = fake_docker()
    assert call["args"][5:] == ["-t", f"simple:{short}", "-f", "Dockerfile", "."]


def test_paths_are_relative_to_the_repository_root_wherever_the_manifest_is(tmp_path, fake_docker):
    work = make_repo(
        tmp_path,
        {
            "manifests/train.yaml": MANIFEST,
            "app/build/Dockerfile": "FROM scratch AS runtime\n",
        },
    )
    result = run_cli("image", "train.yaml", cwd=work / "manifests")
    assert result.exit_code == 0, result.stderr
    [call] = fake_docker()
    assert call["cwd"] == str(work)
    assert call["args"][-1] == "app" and "app/build/Dockerfile" in call["args"]


def test_an_unreadable_manifest_is_an_environment_error(tmp_path, fake_docker):
    result = run_cli("image", "missing.yaml", cwd=tmp_path)
    assert result.exit_code == 3
    assert "error[E006]" in result.stderr
    assert fake_docker() == []


def test_the_dockerfile_falls_back_to_the_repository_root(tmp_path, fake_docker):
    manifest = MANIFEST.replace("dockerfile: ./build/Dockerfile", "dockerfile: Dockerfile")
    work = app_repo(tmp_path, manifest)
    assert run_cli("image", "manifest.yaml", cwd=work).exit_code == 0
    [call] = fake_docker()
    assert call["args"][call["args"].index("-f") + 1] == "Dockerfile"
    assert call["args"][-1] == "app"


def test_a_dirty_tree_is_not_built(tmp_path, fake_docker):
    work = app_repo(tmp_path)
    (work / "app" / "main.py").write_text("print('changed')\n")
    result = run_cli("image", "manifest.yaml", cwd=work)
    assert result.exit_code == 1
    assert "manifest.yaml:4:1: error[E602]" in result.stderr
    assert result.stdout == ""
    assert fake_docker() == []


def test_an_unpushed_commit_is_not_built(tmp_path, fake_docker):
    work = app_repo(tmp_path, push=False)
    result = run_cli("image", "manifest.yaml", cwd=work)
    assert result.exit_code == 1
    assert "error[E603]" in result.stderr and "E602" not in result.stderr
    assert fake_docker() == []


def test_allow_dirty_builds_and_marks_the_tag(tmp_path, fake_docker):
    work = app_repo(tmp_path, push=False)
    (work / "app" / "main.py").write_text("print('changed')\n")
    short = git(work, "rev-parse", "--short", "HEAD")
    result = run_cli("image", "manifest.yaml", "--allow-dirty", cwd=work)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"registry.example.com/team/trainer:{short}-dirty@{DIGEST}\n"


def test_dry_run_prints_the_docker_command_and_builds_nothing(tmp_path, fake_docker):
    work = app_repo(tmp_path, PLAIN_MANIFEST)
    short = git(work, "rev-parse", "--short", "HEAD")
    result = run_cli("image", "manifest.yaml", "--dry-run", cwd=work)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"docker buildx build --push --metadata-file METADATA_FILE -t simple:{short} "
        "-f Dockerfile .\n"
    )
    assert fake_docker() == []


def test_a_failed_docker_build_is_a_diagnostic(tmp_path, fake_docker, monkeypatch):
    work = app_repo(tmp_path)
    monkeypatch.setenv("FAKE_DOCKER_EXIT", "7")
    digest_file = tmp_path / "digest.txt"
    result = run_cli("image", "manifest.yaml", "--output-digest", str(digest_file), cwd=work)
    assert result.exit_code == 1
    assert "error[E607]" in result.stderr and "status 7" in result.stderr
    assert result.stdout == "" and not digest_file.exists()


def test_a_build_without_metadata_is_a_diagnostic(tmp_path, fake_docker, monkeypatch):
    work = app_repo(tmp_path)
    monkeypatch.setenv("FAKE_DOCKER_NO_METADATA", "1")
    result = run_cli("image", "manifest.yaml", cwd=work)
    assert result.exit_code == 1
    assert "error[E607]" in result.stderr and "metadata" in result.stderr


def test_a_metadata_file_without_a_digest_is_a_diagnostic(tmp_path, fake_docker, monkeypatch):
    work = app_repo(tmp_path)
    monkeypatch.setenv("FAKE_DOCKER_DIGEST", "latest")
    result = run_cli("image", "manifest.yaml", "--output-digest", str(tmp_path / "d"), cwd=work)
    assert result.exit_code == 1
    assert "error[E607]" in result.stderr and "containerimage.digest" in result.stderr


def test_no_docker_on_path_is_an_environment_error(tmp_path, monkeypatch):
    work = app_repo(tmp_path)
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    (only_git / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(only_git))
    result = run_cli("image", "manifest.yaml", cwd=work)
    assert result.exit_code == 3
    assert "error[E608]" in result.stderr and "--builder kaniko" in result.stderr


def test_a_manifest_outside_a_repository_is_an_environment_error(tmp_path, fake_docker):
    (tmp_path / "manifest.yaml").write_text(PLAIN_MANIFEST)
    result = run_cli("image", "manifest.yaml", cwd=tmp_path)
    assert result.exit_code == 3
    assert "error[E604]" in result.stderr
    assert fake_docker() == []


@pytest.mark.parametrize(
    "change, field",
    [
        (("context: app", "context: missing"), "builder.context"),
        (("context: app", "context: ../outside"), "builder.context"),
        (
            ("dockerfile: ./build/Dockerfile", "dockerfile: nowhere/Dockerfile"),
            "builder.dockerfile",
        ),
    ],
)
def test_missing_build_sources_are_diagnostics(tmp_path, fake_docker, change, field):
    work = app_repo(tmp_path, MANIFEST.replace(*change))
    result = run_cli("image", "manifest.yaml", cwd=work)
    assert result.exit_code == 1
    assert "error[E606]" in result.stderr and field in result.stderr
    assert fake_docker() == []


def test_a_manifest_without_builder_section_has_nothing_to_build(tmp_path, fake_docker):
    manifest = PLAIN_MANIFEST.replace(
        "builder:\n  image: simple\n  dockerfile: ./Dockerfile\n  context: .\n", ""
    )
    work = app_repo(tmp_path, manifest)
    result = run_cli("image", "manifest.yaml", cwd=work)
    assert result.exit_code == 1
    assert "error[E605]" in result.stderr and "no builder section" in result.stderr


def test_two_workloads_in_one_file_are_refused(tmp_path, fake_docker):
    work = app_repo(tmp_path, PLAIN_MANIFEST + "---\n" + PLAIN_MANIFEST)
    result = run_cli("image", "manifest.yaml", cwd=work)
    assert result.exit_code == 1
    assert "error[E605]" in result.stderr and "2 workloads" in result.stderr


def test_an_invalid_manifest_is_not_built(tmp_path, fake_docker):
    work = app_repo(
        tmp_path, PLAIN_MANIFEST.replace("image: simple\n  command", "image: other\n  command")
    )
    result = run_cli("image", "manifest.yaml", cwd=work)
    assert result.exit_code == 1
    assert "error[E130]" in result.stderr
    assert fake_docker() == []


def test_an_unwritable_digest_file_is_an_environment_error(tmp_path, fake_docker):
    work = app_repo(tmp_path, PLAIN_MANIFEST)
    result = run_cli(
        "image",
        "manifest.yaml",
        "--output-digest",
        str(tmp_path / "no" / "such" / "dir" / "d"),
        cwd=work,
    )
    assert result.exit_code == 3
    assert "error[E006]" in result.stderr


# ---------------------------------------------------------------------------------------------
# compile image --builder kaniko


def kaniko_output(work: Path, *extra: str) -> dict:
    result = run_cli("image", "manifest.yaml", "--builder", "kaniko", *extra, cwd=work)
    assert result.exit_code == 0, result.stderr
    [job] = list(yaml.safe_load_all(result.stdout))
    return job


def test_the_kaniko_job_builds_the_pushed_commit(tmp_path):
    work = app_repo(tmp_path)
    commit = git(work, "rev-parse", "HEAD")
    short = git(work, "rev-parse", "--short", "HEAD")
    job = kaniko_output(work, "--namespace", "builds")
    assert core_errors(job) == []
    assert job["metadata"]["name"] == f"build-trainer-{short}"
    assert job["metadata"]["namespace"] == "builds"
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == KANIKO_IMAGE
    assert container["args"] == [
        f"--context=git://{tmp_path}/remote.git#refs/heads/main#{commit}",
        "--context-sub-path=app",
        "--dockerfile=build/Dockerfile",
        f"--destination=registry.example.com/team/trainer:{short}",
        "--digest-file=/dev/termination-log",
        "--build-arg=PYTHON_VERSION=3.11",
        "--build-arg=USE_CUDA=true",
        "--target=runtime",
    ]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["volumeMounts"] == [
        {"name": "registry-credentials", "mountPath": "/kaniko/.docker", "readOnly": True}
    ]
    assert pod["volumes"] == [
        {
            "name": "registry-credentials",
            "secret": {
                "secretName": "registry-credentials",
                "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
            },
        }
    ]
    assert pod["restartPolicy"] == "Never"


def test_the_registry_secret_can_be_named(tmp_path):
    job = kaniko_output(app_repo(tmp_path), "--registry-secret", "team-pusher")
    assert job["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == "team-pusher"


def test_kaniko_builds_the_commit_so_a_dirty_tree_does_not_mark_the_tag(tmp_path):
    work = app_repo(tmp_path)
    (work / "app" / "main.py").write_text("print('changed')\n")
    short = git(work, "rev-parse", "--short", "HEAD")
    job = kaniko_output(work, "--allow-dirty")
    assert (
        f"--destination=registry.example.com/team/trainer:{short}"
        in job["spec"]["template"]["spec"]["containers"][0]["args"]
    )


def test_kaniko_needs_the_commit_on_the_remote_even_with_allow_dirty(tmp_path):
    work = app_repo(tmp_path, push=False)
    result = run_cli("image", "manifest.yaml", "--builder", "kaniko", "--allow-dirty", cwd=work)
    assert result.exit_code == 1
    assert "error[E603]" in result.stderr and "kaniko" in result.stderr
    assert result.stdout == ""


def test_kaniko_job_of_a_plain_manifest_validates(tmp_path):
    job = kaniko_output(app_repo(tmp_path, PLAIN_MANIFEST))
    assert core_errors(job) == []
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any(a.startswith("--context-sub-path") for a in args)
    assert "--dockerfile=Dockerfile" in args


def plan(**changes) -> BuildPlan:
    values = {
        "repository": "registry.example.com/" + "very-long-image-name-" * 4,
        "tag": "0123abc",
        "context": ".",
        "dockerfile": "Dockerfile",
        "commit": "c" * 40,
        "remote_url": "https://github.com/o/r.git",
        "remote_branch": "main",
    }
    values.update(changes)
    return BuildPlan(**values)


def test_build_job_names_stay_short_and_keep_the_commit():
    name = build_job_name(plan())
    assert (
        len(name) <= 57
        and name.endswith("-0123abc")
        and name.startswith("build-very-long-image-name")
    )
    assert core_errors(kaniko_job(plan())) == []


def test_the_dockerfile_is_given_to_kaniko_relative_to_the_context():
    job = kaniko_job(plan(context="app", dockerfile="docker/app.Dockerfile"))
    assert (
        "--dockerfile=../docker/app.Dockerfile"
        in job["spec"]["template"]["spec"]["containers"][0]["args"]
    )


def test_the_digest_is_read_from_the_build_pods_termination_message():
    def pod(message, name="kaniko"):
        return {
            "status": {
                "containerStatuses": [
                    {"name": name, "state": {"terminated": {"exitCode": 0, "message": message}}}
                ]
            }
        }

    assert digest_from_pod(pod(DIGEST + "\n")) == DIGEST
    assert digest_from_pod(pod("error building image")) is None
    assert digest_from_pod(pod(DIGEST, name="other")) is None
    assert (
        digest_from_pod(
            {"status": {"containerStatuses": [{"name": "kaniko", "state": {"running": {}}}]}}
        )
        is None
    )
    assert digest_from_pod({}) is None


# ---------------------------------------------------------------------------------------------
# compile --image-digest


def containers(objects: list[dict]) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            found.extend(node.get("containers", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(objects)
    return found


def test_image_digest_pins_every_container_and_is_recorded(tmp_path):
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    result = run_cli("-o", "json", "--image-digest", DIGEST, "manifest.yaml", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    objects = json.loads(result.stdout)["items"]
    images = [c["image"] for c in containers(objects)]
    assert images == [f"registry.example.com/team/trainer@{DIGEST}"] * 2
    assert objects[0]["metadata"]["annotations"]["manifest-compiler/image-digest"] == DIGEST


def test_without_image_digest_the_image_is_left_alone(tmp_path):
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    objects = json.loads(run_cli("-o", "json", "manifest.yaml", cwd=tmp_path).stdout)["items"]
    assert {c["image"] for c in containers(objects)} == {"trainer"}
    assert "manifest-compiler/image-digest" not in objects[0]["metadata"]["annotations"]


@pytest.mark.parametrize(
    "digest", ["sha256:abc", "latest", "sha256:" + "AB" * 32, "sha256:" + "ab" * 32 + " "]
)
def test_a_malformed_image_digest_is_a_diagnostic(tmp_path, digest):
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    result = run_cli("--image-digest", digest, "manifest.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "<--image-digest>:1:1: error[E601]" in result.stderr
    assert result.stdout == ""


def test_check_validates_the_image_digest_too(tmp_path):
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    assert run_cli("check", "--image-digest", "nope", "manifest.yaml", cwd=tmp_path).exit_code == 1
    assert run_cli("check", "--image-digest", DIGEST, "manifest.yaml", cwd=tmp_path).exit_code == 0


def test_the_digest_compile_image_prints_pins_the_workload(tmp_path, fake_docker):
    work = app_repo(tmp_path)
    digest_file = tmp_path / "digest.txt"
    assert (
        run_cli("image", "manifest.yaml", "--output-digest", str(digest_file), cwd=work).exit_code
        == 0
    )
    result = run_cli(
        "-o", "json", "--image-digest", digest_file.read_text().strip(), "manifest.yaml", cwd=work
    )
    assert result.exit_code == 0, result.stderr
    built = f"registry.example.com/team/trainer@{DIGEST}"
    assert {c["image"] for c in containers(json.loads(result.stdout)["items"])} == {built}
