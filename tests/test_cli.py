"""The command line as a user meets it: default command, options, streams and exit codes."""

from __future__ import annotations

import json
import textwrap

import yaml
from click.testing import CliRunner

from compiler.cli.app import cli

MANIFEST = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    builder: {image: team/train:1.10, dockerfile: ./Dockerfile, context: .}
    spec:
      operator: jobset
      image: team/train:1.10
      command: python -u train.py
      types:
        worker-heavy: {count: 1, resources: {cpus: 8, ramRatio: 4}}
        worker: {count: 7, resources: {cpus: 2, ramRatio: 2}}
""")


def run(*args, stdin=None):
    runner = CliRunner()
    return runner.invoke(cli, list(args), input=stdin, catch_exceptions=False)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_default_command_is_emit(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST)
    assert run(path).output == run("emit", path).output
    objects = list(yaml.safe_load_all(run(path).output))
    assert [o["kind"] for o in objects] == ["JobSet"]
    assert objects[0]["metadata"]["name"] == "train"


def test_json_output_is_the_same_objects(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST)
    listed = json.loads(run(path, "-o", "json").output)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    assert listed["items"] == list(yaml.safe_load_all(run(path).output))


def test_name_and_namespace_overrides(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST)
    (obj,) = yaml.safe_load_all(run(path, "--name", "exp-7", "--namespace", "research").output)
    assert obj["metadata"]["name"] == "exp-7"
    assert obj["metadata"]["namespace"] == "research"


def test_n_is_namespace_for_emit_and_check(tmp_path):
    """Issue 24: `-n` as kubectl and the cluster commands take it (emit and check rejected it)."""
    path = write(tmp_path, "train.yaml", MANIFEST)
    (obj,) = yaml.safe_load_all(run("-n", "research", path).output)
    assert obj["metadata"]["namespace"] == "research"
    assert run(path, "-n", "research").output == run(path, "--namespace", "research").output
    checked = run("check", "-n", "research", path)
    assert checked.exit_code == 0, checked.output


def test_name_from_file_is_made_a_dns_label(tmp_path):
    path = write(tmp_path, "My_Experiment.v2.yaml", MANIFEST)
    (obj,) = yaml.safe_load_all(run(path).output)
    assert obj["metadata"]["name"] == "my-experiment-v2"


def test_invalid_name_override_is_a_diagnostic(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST)
    result = run(path, "--name", "Not_Valid")
    assert result.exit_code == 1
    assert "error[E301]" in result.output


def test_set_overrides_a_value_without_reordering_types(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST)
    (obj,) = yaml.safe_load_all(run(path, "--set", "spec.types.worker.count=9").output)
    jobs = obj["spec"]["replicatedJobs"]
    assert [(j["name"], j["replicas"]) for j in jobs] == [("worker-heavy", 1), ("worker", 9)]


def test_set_with_bracketed_key(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST)
    (obj,) = yaml.safe_load_all(
        run(path, "--set", 'spec.labels["app.kubernetes.io/team"]=vision').output
    )
    assert obj["metadata"]["labels"]["app.kubernetes.io/team"] == "vision"


def test_malformed_set_is_a_diagnostic(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST)
    result = run(path, "--set", "spec.types.worker.count")
    assert result.exit_code == 1
    assert "error[E207]" in result.output


def test_one_bad_file_means_no_output_at_all(tmp_path):
    good = write(tmp_path, "good.yaml", MANIFEST)
    bad = write(tmp_path, "bad.yaml", MANIFEST.replace("command:", "comand:"))
    result = CliRunner().invoke(cli, [good, bad])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        "bad.yaml:7:3: error[E101] spec.comand: unknown key 'comand'; did you mean 'command'?"
        in result.stderr
    )


def test_multi_document_file_gives_one_object_per_workload(tmp_path):
    second = MANIFEST.replace("kind: AIchorManifest", "kind: AIchorManifest\nname: second")
    path = write(tmp_path, "two.yaml", MANIFEST + "---\n" + second)
    names = [o["metadata"]["name"] for o in yaml.safe_load_all(run(path).output)]
    assert names == ["two", "second"]


def test_unreadable_file_is_an_environment_error(tmp_path):
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 3
    assert "error[E006]" in result.output


def test_check_reports_every_problem_with_position(tmp_path):
    text = MANIFEST.replace("operator: jobset", "operator: slurmm").replace(
        "cpus: 8", "cpus: eight"
    )
    path = write(tmp_path, "train.yaml", text)
    result = run("check", path)
    assert result.exit_code == 1
    assert (
        f"{path}:5:13: error[E110] spec.operator: operator 'slurmm' is not supported; supported operators:"
        in result.output
    )
    assert "did you mean 'slurm'" not in result.output


def test_check_valid_manifest_exits_zero_and_prints_nothing(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST)
    result = run("check", path)
    assert (result.exit_code, result.output) == (0, "")


def test_warning_for_field_without_effect_goes_to_stderr(tmp_path):
    path = write(tmp_path, "train.yaml", MANIFEST + "  tensorboard:\n    enabled: true\n")
    result = CliRunner().invoke(cli, [path])
    assert result.exit_code == 0
    assert "warning[W101] spec.tensorboard.enabled: accepted but has no effect" in result.stderr
    assert "W101" not in result.stdout
    assert CliRunner().invoke(cli, [path, "--quiet"]).stderr == ""


def test_usage_error_exits_two():
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2


def test_templates_are_not_compiled_on_their_own(tmp_path):
    template = MANIFEST.replace(
        "kind: AIchorManifest", "kind: AIchorManifest\nusage: Template\nname: base"
    )
    path = write(tmp_path, "template.yaml", template)
    result = run(path)
    assert (result.exit_code, result.output) == (0, "")


def test_document_of_another_kind_is_named(tmp_path):
    path = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = run("check", path)
    assert result.exit_code == 1
    assert (
        f"{path}:2:7: error[E010] kind: kind 'ConfigMap' is not 'AIchorManifest' or 'Policy'"
        in result.output
    )


def test_two_volumes_on_one_mount_path_are_rejected(tmp_path):
    text = MANIFEST + textwrap.indent(
        textwrap.dedent("""\
        secrets:
          creds: {secretName: s3, mountPath: /data}
        storage:
          attachExistingPVCs:
            - {name: datasets, mountPoint: /data/}
    """),
        "  ",
    )
    path = write(tmp_path, "train.yaml", text)
    result = run("check", path)
    assert result.exit_code == 1
    assert (
        "error[E305] spec.storage.attachExistingPVCs.datasets.mountPoint: '/data/' is already the mount path of spec.secrets.creds.mountPath"
        in result.output
    )


def test_companion_objects_do_not_carry_the_queue_label(tmp_path):
    text = MANIFEST + "  queue: research\n  ports:\n    web: {container: 8080, external: 80}\n"
    path = write(tmp_path, "train.yaml", text)
    job, service = yaml.safe_load_all(run(path).stdout)  # stderr has W110
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "research"
    assert "kueue.x-k8s.io/queue-name" not in service["metadata"]["labels"]


def test_check_validates_a_template_as_a_fragment(tmp_path):
    template = textwrap.dedent("""\
        kind: AIchorManifest
        usage: Template
        name: base
        spec:
          types:
            worker: {resources: {cpus: 4, ramRatoi: 2}}
    """)
    path = write(tmp_path, "template.yaml", template)
    result = run("check", path)
    assert result.exit_code == 1
    assert (
        f"{path}:6:35: error[E101] spec.types.worker.resources.ramRatoi: unknown key 'ramRatoi'; did you mean 'ramRatio'?"
        in result.output
    )
    assert "E103" not in result.output  # operator, image and command come from the workload


def test_a_complete_template_checks_clean(tmp_path):
    template = MANIFEST.replace(
        "kind: AIchorManifest", "kind: AIchorManifest\nusage: Template\nname: base"
    )
    assert run("check", write(tmp_path, "template.yaml", template)).exit_code == 0


def test_yaml_1_1_directive_is_read_as_yaml_1_2_with_a_warning(tmp_path):
    path = write(tmp_path, "old.yaml", "%YAML 1.1\n---\n" + MANIFEST + "  env: {DEBUG: on}\n")
    result = CliRunner().invoke(cli, [path])
    assert result.exit_code == 0
    assert f"{path}:1:1: warning[W105]" in result.stderr
    (obj,) = yaml.safe_load_all(result.stdout)
    env = obj["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert {"name": "DEBUG", "value": "on"} in env


def test_a_document_that_is_a_list_is_named_plainly(tmp_path):
    path = write(tmp_path, "list.yaml", "- a\n- b\n")
    result = run("check", path)
    assert result.exit_code == 1
    assert (
        result.output
        == f"{path}:1:1: error[E010] this document is a list, not a mapping with kind 'AIchorManifest'\n"
    )


def test_manifest_rules_are_reported_together_with_structural_errors(tmp_path):
    text = textwrap.dedent("""\
        kind: AIchorManifest
        apiVersion: 0.2.3
        builder: {image: "img:1.10"}
        spec:
          operator: jobset
          image: "img:1.11"
          comand: python x
          types:
            worker:
              count: 2
              resources: {cpus: 2, ramRatio: 2, memory: 4}
    """)
    path = write(tmp_path, "train.yaml", text)
    codes = [line.split("[")[1].split("]")[0] for line in run("check", path).output.splitlines()]
    assert codes == ["E130", "E101", "E120"]  # 'command' missing is the misspelling's consequence


def test_an_unsupported_operator_gets_one_clean_diagnostic(tmp_path):
    text = textwrap.dedent("""\
        kind: AIchorManifest
        apiVersion: 0.2.2
        builder: {image: a}
        spec:
          operator: slurm
          image: b
          command: srun train.py
          types:
            Worker: {count: 2, resources: {cpus: 4}}
    """)
    path = write(tmp_path, "slurm.yaml", text)
    assert [
        line.split("]")[0].rsplit("[", 1)[1] for line in run("check", path).output.splitlines()
    ] == ["E110"]


def test_a_prefix_policy_pattern_is_a_search(tmp_path):
    policy = textwrap.dedent(r"""
        apiVersion: manifest-compiler/v1
        kind: Policy
        metadata: {name: images}
        spec:
          rules:
            spec.image: {pattern: '^registry\.example\.com/'}
    """).lstrip()
    policy_path = write(tmp_path, "policy.yaml", policy)
    allowed = write(
        tmp_path,
        "train.yaml",
        MANIFEST.replace("team/train:1.10", "registry.example.com/team/train:1.10"),
    )
    result = run("check", "-p", policy_path, allowed)
    assert result.exit_code == 0, result.output
    assert "W106" not in result.output
    other = write(
        tmp_path,
        "other.yaml",
        MANIFEST.replace("team/train:1.10", "evil.example.net/registry.example.com/x:1"),
    )
    assert "error[E405] spec.image" in run("check", "-p", policy_path, other).output


def test_no_command_takes_one_option_twice():
    """Two options spelt alike (``-n`` from the shared options and ``-n`` of a command's own)
    make click warn on every run and take one of them silently."""
    import click

    from compiler.cli.app import cli

    context = click.Context(cli)
    doubled = {}
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        spellings = [
            s
            for p in command.params
            for s in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])
        ]
        repeated = sorted({s for s in spellings if spellings.count(s) > 1})
        if repeated:
            doubled[name] = repeated
    assert doubled == {}
