"""`compile diff`: what a policy or template change does to every manifest, for review and CI."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import textwrap

import pytest
from click.testing import CliRunner

from compiler.cli.app import cli

SMALL = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    name: small
    spec:
      operator: jobset
      image: team/train:1
      command: python train.py
      types:
        worker: {count: 2, resources: {cpus: 4, ramRatio: 2}}
""")
BIG = SMALL.replace("name: small", "name: big").replace(
    "count: 2, resources: {cpus: 4", "count: 8, resources: {cpus: 16"
)
FROM_TEMPLATE = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    name: derived
    baseWorkload: base
    spec:
      types:
        worker: {count: 3}
""")
TEMPLATE = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    usage: Template
    name: base
    spec:
      operator: jobset
      image: team/train:1
      command: python train.py
      types:
        worker: {count: 1, resources: {cpus: 2, ramRatio: 2}}
""")


def policy(ttl: int, cpus: int) -> str:
    return textwrap.dedent(f"""\
        apiVersion: manifest-compiler/v1
        kind: Policy
        metadata:
          name: limits
        spec:
          defaults:
            spec:
              ttlSecondsAfterFinished: {ttl}
          limits:
            cpus: {cpus}
    """)


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def git(*args: str) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path):
    """A repository with two manifests and a policy; the second commit lowers the cpu limit to 64
    (big.yaml needs 128) and the ttl default from 7 days to 1 day."""
    (tmp_path / "examples" / "policies").mkdir(parents=True)
    (tmp_path / "examples" / "small.yaml").write_text(SMALL)
    (tmp_path / "examples" / "big.yaml").write_text(BIG)
    limits = tmp_path / "examples" / "policies" / "limits.yaml"
    limits.write_text(policy(604800, 256))
    with contextlib.chdir(tmp_path):
        git("init", "-q", ".")
        git("add", "-A")
        git("commit", "-qm", "policy")
        limits.write_text(policy(86400, 64))
        git("commit", "-qam", "lower the limits")
        yield tmp_path


def test_git_range_reports_exactly_the_effect_of_the_commit(repo):
    result = invoke("diff", "--git", "HEAD~1..HEAD")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "comparing HEAD~1 → HEAD"
    assert lines[1] == "examples/big.yaml: became invalid"
    assert re.fullmatch(
        r"  \+ examples/big\.yaml:\d+:\d+: error\[E411\] .*128.*64.*HEAD:examples/policies/limits\.yaml:\d+:\d+.*",
        lines[2],
    )
    assert lines[3] == "examples/small.yaml: output changed"
    assert re.fullmatch(
        r'  JobSet/small metadata\.annotations\["manifest-compiler/digest"\]: "sha256:[0-9a-f]{64}" → "sha256:[0-9a-f]{64}"',
        lines[4],
    )
    assert lines[5] == "  JobSet/small spec.ttlSecondsAfterFinished: 604800 → 86400"
    # the admission policies the limits become changed too (compile admission)
    assert lines[6] == "admission policies (compile admission): output changed"
    assert any("manifest-compiler.limits.jobset" in line and "> 64.0" in line for line in lines)
    assert lines[-1] == "diff: 2 manifests: 1 became invalid, 1 output changed"


def test_exit_code_flag_fails_on_any_change(repo):
    assert invoke("diff", "--git", "HEAD~1..HEAD", "--exit-code").exit_code == 1
    result = invoke("diff", "--git", "HEAD..HEAD", "--exit-code")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "diff: 2 manifests: 1 still invalid, 1 unchanged"


def test_reverse_range_makes_the_manifest_valid_again(repo):
    result = invoke("diff", "--git", "HEAD..HEAD~1")
    assert "examples/big.yaml: became valid" in result.output
    assert re.search(
        r"^  - examples/big\.yaml:\d+:\d+: error\[E411\] .*HEAD:examples/policies/limits\.yaml",
        result.output,
        re.M,
    )
    assert "  JobSet/small spec.ttlSecondsAfterFinished: 86400 → 604800" in result.output


def test_base_compares_a_revision_with_the_working_tree(repo):
    (repo / "examples" / "policies" / "limits.yaml").write_text(policy(3600, 64))  # not committed
    result = invoke("diff", "--base", "HEAD")
    assert result.exit_code == 0
    assert "comparing HEAD → working tree" in result.output
    assert "  JobSet/small spec.ttlSecondsAfterFinished: 86400 → 3600" in result.output
    assert "examples/big.yaml: still invalid" in result.output
    assert result.output.splitlines()[-1] == "diff: 2 manifests: 1 output changed, 1 still invalid"


def test_three_dot_range_starts_at_the_merge_base(repo):
    result = invoke("diff", "--git", "HEAD~1...HEAD")
    assert "examples/big.yaml: became invalid" in result.output


def test_a_policy_that_did_not_exist_before(repo):
    (repo / "examples" / "policies" / "extra.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: manifest-compiler/v1
        kind: Policy
        metadata: {name: extra}
        spec:
          defaults: {spec: {labels: {team: vision}}}
    """)
    )
    git("add", "-A")
    git("commit", "-qm", "a new policy")
    result = invoke("diff", "--git", "HEAD~1..HEAD")
    assert result.exit_code == 0
    assert 'JobSet/small metadata.labels.team: added "vision"' in result.output


def test_files_argument_restricts_the_manifests(repo):
    result = invoke("diff", "--git", "HEAD~1..HEAD", "examples/small.yaml")
    assert "big.yaml" not in result.output
    assert result.output.splitlines()[-1] == "diff: 1 manifest: 1 output changed"


def test_json_format(repo):
    result = invoke("diff", "--git", "HEAD~1..HEAD", "--format", "json")
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert (document["before"], document["after"]) == ("HEAD~1", "HEAD")
    assert document["summary"]["manifests"] == 2
    assert document["summary"]["became-invalid"] == 1 and document["summary"]["output-changed"] == 1
    by_file = {m["file"]: m for m in document["manifests"]}
    big, small = by_file["examples/big.yaml"], by_file["examples/small.yaml"]
    assert big["status"] == "became-invalid"
    assert (
        [d["code"] for d in big["diagnostics"]] == [d["code"] for d in big["newErrors"]] == ["E411"]
    )
    assert big["goneErrors"] == []
    assert any(
        r.get("file") == "HEAD:examples/policies/limits.yaml"
        for r in big["diagnostics"][0]["related"]
    )
    assert small["status"] == "output-changed"
    assert {
        "object": "JobSet/small",
        "path": "spec.ttlSecondsAfterFinished",
        "change": "changed",
        "old": 604800,
        "new": 86400,
    } in small["changes"]


def test_no_progress_or_extra_output_in_a_pipe(repo, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = invoke("diff", "--git", "HEAD~1..HEAD")
    assert result.stderr == ""


# ---------------------------------------------------------------------------------------------
# two directories, and explicit paths


@pytest.fixture
def dirs(tmp_path):
    for side, count in (("old", 1), ("new", 4)):
        (tmp_path / side / "templates").mkdir(parents=True)
        (tmp_path / side / "policies").mkdir()
        (tmp_path / side / "templates" / "base.yaml").write_text(
            TEMPLATE.replace("count: 1", f"count: {count}")
        )
    (tmp_path / "new" / "templates" / "base.yaml").write_text(
        TEMPLATE.replace("cpus: 2", "cpus: 3")
    )
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "derived.yaml").write_text(FROM_TEMPLATE)
    (tmp_path / "examples" / "small.yaml").write_text(SMALL)
    with contextlib.chdir(tmp_path):
        yield tmp_path


def test_before_and_after_directories_with_a_template_change(dirs):
    result = invoke("diff", "--before", "old", "--after", "new", "--exit-code")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "comparing old → new"
    assert "examples/derived.yaml: output changed" in lines
    assert (
        '  JobSet/derived spec.replicatedJobs[worker].template.spec.template.spec.containers[worker].resources.requests.cpu: "2" → "3"'
        in lines
    )
    assert "examples/small.yaml: unchanged" in lines
    assert lines[-1] == "diff: 2 manifests: 1 output changed, 1 unchanged"


def test_explicit_template_paths(dirs):
    result = invoke(
        "diff",
        "--templates-before",
        "old/templates",
        "--templates-after",
        "new/templates",
        "examples/derived.yaml",
    )
    assert "examples/derived.yaml: output changed" in result.output


def test_a_template_removed_makes_its_users_invalid(dirs):
    result = invoke(
        "diff", "--templates-before", "old/templates", "--templates-after", "old/policies"
    )
    assert "examples/derived.yaml: became invalid" in result.output
    assert "error[E201]" in result.output


def test_errors_that_change_are_reported(dirs):
    (dirs / "examples" / "derived.yaml").write_text(
        FROM_TEMPLATE.replace("count: 3", "count: 3, resources: {cpus: 2, ramRatio: 2}")
        + "  operator: nope\n"
    )
    result = invoke("diff", "--before", "old", "--after", "new")
    assert "examples/derived.yaml: still invalid" in result.output
    (dirs / "new" / "policies" / "p.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: manifest-compiler/v1
        kind: Policy
        metadata: {name: p}
        spec:
          rules:
            spec.image: {pattern: '^registry\\.example\\.com/'}
    """)
    )
    result = invoke(
        "diff", "--before", "old", "--after", "new", "examples/derived.yaml", "--exit-code"
    )
    assert "examples/derived.yaml: errors changed" in result.output
    (new_error,) = [line for line in result.output.splitlines() if line.startswith("  + ")]
    assert "(policy p at new/policies/p.yaml:6:5" in new_error
    assert not [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert "E110" not in result.output  # the operator error was there before and is still there
    assert result.exit_code == 1


def test_a_directory_without_subdirectories_holds_policies_and_templates(dirs):
    flat = dirs / "flat"
    flat.mkdir()
    (flat / "base.yaml").write_text(TEMPLATE.replace("cpus: 2", "cpus: 5"))
    result = invoke("diff", "--before", "old", "--after", "flat", "examples/derived.yaml")
    assert '"2" → "5"' in result.output


def test_compile_yaml_paths_are_compared_and_not_added_to_both_sides(tmp_path):
    """With .compile.yaml naming the policies, --git compares its paths at each revision; the
    working tree's policies must not leak into the old side (a second 'limits' would conflict)."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "jobs").mkdir()
    (tmp_path / ".compile.yaml").write_text("policies: [policies/]\nproject: vision\n")
    (tmp_path / "jobs" / "small.yaml").write_text(SMALL)
    limits = tmp_path / "policies" / "limits.yaml"
    limits.write_text(policy(604800, 256))
    with contextlib.chdir(tmp_path):
        git("init", "-q", ".")
        git("add", "-A")
        git("commit", "-qm", "policy")
        limits.write_text(policy(86400, 256))
        git("commit", "-qam", "shorter ttl")
        result = invoke("diff", "--git", "HEAD~1..HEAD", "jobs/")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == [
        "jobs/small.yaml: output changed",
        result.output.splitlines()[2],  # the digest annotation
        "  JobSet/small spec.ttlSecondsAfterFinished: 604800 → 86400",
        "diff: 1 manifest: 1 output changed",
    ]
    assert "manifest-compiler/digest" in result.output.splitlines()[2]


def test_a_manifest_that_cannot_be_read_is_an_environment_error(dirs):
    result = invoke(
        "diff", "--before", "old", "--after", "new", "examples/small.yaml", "examples/missing.yaml"
    )
    assert result.exit_code == 3
    assert "examples/missing.yaml: still invalid" in result.stdout
    assert (
        result.stderr
        == "examples/missing.yaml:1:1: error[E006] cannot read file: No such file or directory\n"
    )


def test_a_broken_compile_yaml_stops_the_diff(dirs):
    (dirs / ".compile.yaml").write_text("policy: [p/]\n")
    result = invoke("diff", "--before", "old", "--after", "new")
    assert result.exit_code == 1
    assert "error[E101]" in result.stderr and "did you mean 'policies'" in result.stderr


# ---------------------------------------------------------------------------------------------
# the field diff itself (pure)


def _describe(old, new):
    from compiler.review.fielddiff import object_changes

    return [change.describe() for change in object_changes(old, new)]


def test_field_paths_name_list_items_and_quote_odd_keys():
    old = [
        {
            "kind": "JobSet",
            "metadata": {"name": "t", "labels": {"app.kubernetes.io/x": "a"}},
            "spec": {"replicatedJobs": [{"name": "w", "replicas": 1, "args": ["a", "b"]}]},
        }
    ]
    new = [
        {
            "kind": "JobSet",
            "metadata": {"name": "t", "labels": {"app.kubernetes.io/x": "b"}},
            "spec": {"replicatedJobs": [{"name": "w", "replicas": 1, "args": ["a", "c", "d"]}]},
        }
    ]
    assert _describe(old, new) == [
        'JobSet/t metadata.labels["app.kubernetes.io/x"]: "a" → "b"',
        'JobSet/t spec.replicatedJobs[w].args[1]: "b" → "c"',
        'JobSet/t spec.replicatedJobs[w].args[2]: added "d"',
    ]


def test_lists_with_repeated_names_are_compared_by_index():
    old = [
        {
            "kind": "Job",
            "metadata": {"name": "j"},
            "items": [{"name": "a", "v": 1}, {"name": "a", "v": 2}],
        }
    ]
    new = [
        {
            "kind": "Job",
            "metadata": {"name": "j"},
            "items": [{"name": "a", "v": 1}, {"name": "a", "v": 3}],
        }
    ]
    assert _describe(old, new) == ["Job/j items[1].v: 2 → 3"]


def test_reordered_named_items_and_whole_objects():
    job = {
        "kind": "JobSet",
        "metadata": {"name": "t"},
        "spec": {"replicatedJobs": [{"name": "a"}, {"name": "b"}]},
    }
    swapped = {
        "kind": "JobSet",
        "metadata": {"name": "t"},
        "spec": {"replicatedJobs": [{"name": "b"}, {"name": "a"}]},
    }
    service = {"kind": "Service", "metadata": {"name": "t"}}
    assert _describe([job, service], [swapped]) == [
        'JobSet/t spec.replicatedJobs: order ["a", "b"] → ["b", "a"]',
        "Service/t: object removed",
    ]
    assert _describe([], [service]) == ["Service/t: new object"]


def test_a_changed_type_and_a_removed_mapping_value():
    old = [{"kind": "Job", "metadata": {"name": "j"}, "spec": {"x": "1", "y": {"z": 1}}}]
    new = [{"kind": "Job", "metadata": {"name": "j"}, "spec": {"x": 1}}]
    assert _describe(old, new) == ['Job/j spec.x: "1" → 1', 'Job/j spec.y: removed (was {"z": 1})']


def test_without_deepdiff_a_difference_is_still_reported(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "deepdiff", None)  # import deepdiff now raises ImportError
    old = [{"kind": "Job", "metadata": {"name": "j"}, "spec": {"x": 1}}]
    assert _describe(old, [{"kind": "Job", "metadata": {"name": "j"}, "spec": {"x": 2}}]) == [
        "Job/j: differs (install deepdiff to see which fields)"
    ]
    assert _describe(old, old) == []


@pytest.fixture
def user_repo(tmp_path):
    """A user's repository (issue 24): a .compile.yaml naming platform/ policies and templates,
    workloads under exps/, no examples/ directory; the second commit lowers the cpu limit."""
    (tmp_path / "platform" / "policies").mkdir(parents=True)
    (tmp_path / "platform" / "templates").mkdir()
    (tmp_path / "exps" / "team").mkdir(parents=True)
    (tmp_path / ".compile.yaml").write_text(
        "policies: [platform/policies]\ntemplates: [platform/templates]\n"
    )
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / "platform" / "templates" / "base.yaml").write_text(TEMPLATE)
    (tmp_path / "exps" / "small.yaml").write_text(SMALL)
    (tmp_path / "exps" / "team" / "big.yaml").write_text(BIG)
    (tmp_path / "exps" / "derived.yaml").write_text(FROM_TEMPLATE)
    limits = tmp_path / "platform" / "policies" / "limits.yaml"
    limits.write_text(policy(604800, 256))
    with contextlib.chdir(tmp_path):
        git("init", "-q", ".")
        git("add", "-A")
        git("commit", "-qm", "policy")
        limits.write_text(policy(604800, 64))
        git("commit", "-qam", "lower the limits")
        yield tmp_path


def test_git_range_without_files_in_a_users_repository_reviews_its_workloads(user_repo):
    result = invoke("diff", "--git", "HEAD~1..HEAD")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "comparing HEAD~1 → HEAD"
    assert lines[1] == "exps/derived.yaml: unchanged"
    assert lines[2] == "exps/small.yaml: unchanged"
    assert lines[3] == "exps/team/big.yaml: became invalid"
    assert lines[-1] == "diff: 3 manifests: 1 became invalid, 2 unchanged"


def test_a_policy_change_that_changes_only_the_policy_digest_leaves_the_output_unchanged(
    tmp_path,
):
    """Every object records the digest of its policies; a new limit that binds no manifest
    changes that digest, not what the manifest does, so the review calls it unchanged."""
    for side, cpus in (("old", 256), ("new", 512)):
        (tmp_path / side / "policies").mkdir(parents=True)
        (tmp_path / side / "policies" / "limits.yaml").write_text(policy(604800, cpus))
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "small.yaml").write_text(SMALL)
    with contextlib.chdir(tmp_path):
        result = invoke("diff", "--before", "old", "--after", "new")
    assert result.exit_code == 0, result.output
    assert "examples/small.yaml: unchanged" in result.output.splitlines()
    assert "policy-digest" not in result.output
