"""`compile check` reads and parses each file where it is checked, in the workers (issue 25): the
same report as reading every file first, also when a document needs the other inputs (a base
workload, a template) or two files name one workload (E215)."""

from __future__ import annotations

import textwrap

from click.testing import CliRunner

from compiler.cli.app import cli

WORKLOAD = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    name: {name}
    spec:
      operator: jobset
      image: team/train:1
      command: python train.py
      types:
        worker: {{count: 2, resources: {{cpus: {cpus}, ramRatio: 2}}}}
""")
DERIVED = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.2
    name: derived
    baseWorkload: w03
    spec:
      types:
        worker: {count: 3}
""")


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", *args])
    return result.exit_code, result.output


def many_files(directory, extra: dict[str, str]) -> None:
    for index in range(30):
        name = "w01" if index == 7 else f"w{index:02d}"  # w01 twice: E215
        cpus = "-1" if index == 11 else "4"  # one invalid
        (directory / f"m{index:02d}.yaml").write_text(WORKLOAD.format(name=name, cpus=cpus))
    for file_name, text in extra.items():
        (directory / file_name).write_text(text)


def test_workers_report_what_one_process_reports(tmp_path):
    many_files(tmp_path, {})
    code, one = check("-j", "1", "--format", "json", str(tmp_path))
    assert (code, "E215" in one) == (1, True)
    assert check("-j", "2", "--format", "json", str(tmp_path)) == (code, one)
    assert check("-j", "2", str(tmp_path)) == check("-j", "1", str(tmp_path))


def test_a_base_workload_among_the_inputs_is_found_with_workers(tmp_path):
    many_files(tmp_path, {"zz-derived.yaml": DERIVED})
    code, one = check("-j", "1", str(tmp_path))
    assert "derived" not in one  # the base w03 is found: no E2xx on zz-derived.yaml
    assert check("-j", "2", str(tmp_path)) == (code, one)
