"""Every core (issue 15): ``check``, ``diff`` and ``golden`` over many files compile in worker
processes, and what they print is byte-for-byte what one process prints, in the same order."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import parallel
from compiler.cli.app import cli

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "aichor"


def run(*args, jobs: int):
    result = CliRunner().invoke(cli, [*args, "--jobs", str(jobs)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_ordered_map_uses_worker_processes_and_keeps_the_order():
    items = list(range(200))
    results = list(parallel.ordered_map(lambda item: (item * item, os.getpid()), items, 2))
    assert [square for square, _ in results] == [item * item for item in items]
    # this process takes the even items, one forked child the odd ones
    assert {pid for _, pid in results[0::2]} == {os.getpid()}
    children = {pid for _, pid in results[1::2]}
    assert len(children) == 1 and os.getpid() not in children


def test_three_workers_share_the_items_and_keep_the_order():
    items = [f"item {n}" for n in range(100)]
    results = list(parallel.ordered_map(lambda item: (item.upper(), os.getpid()), items, 3))
    assert [text for text, _ in results] == [item.upper() for item in items]
    assert len({pid for _, pid in results}) == 3


def test_a_failure_in_a_child_reaches_the_caller_and_no_child_is_left():
    def fail_on_odd_7(item):
        if item == 7:  # 7 is in the child's share (the odd items)
            raise KeyError("seven")
        return item

    with pytest.raises(KeyError, match="seven"):
        list(parallel.ordered_map(fail_on_odd_7, range(100), 2))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child of this process remains


def test_a_caller_that_stops_early_leaves_no_child_behind():
    mapped = parallel.ordered_map(lambda item: item, range(100), 2)
    assert next(mapped) == 0
    mapped.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_ordered_map_stays_in_this_process_for_few_items_or_one_job():
    few = list(parallel.ordered_map(lambda _: os.getpid(), range(parallel.MIN_ITEMS - 1), 2))
    one_job = list(parallel.ordered_map(lambda _: os.getpid(), range(100), 1))
    assert set(few) == set(one_job) == {os.getpid()}


def test_a_worker_failure_reaches_the_caller():
    def fail_on_7(item):
        if item == 7:
            raise ValueError("seven")
        return item

    with pytest.raises(ValueError, match="seven"):
        list(parallel.ordered_map(fail_on_7, range(100), 2))


def test_jobs_zero_means_every_core_and_small_work_one():
    assert parallel.workers(0, 10_000) == parallel.available_cores()
    assert parallel.workers(3, parallel.MIN_ITEMS - 1) == 1
    assert parallel.workers(2, 10_000) == 2


@pytest.mark.parametrize("format_", ["text", "json", "sarif", "github"])
def test_check_of_the_corpus_prints_the_same_with_one_and_two_workers(format_, monkeypatch):
    monkeypatch.chdir(REPO)
    files = sorted(str(p) for p in CORPUS.glob("*.yaml"))
    one = run("check", "--format", format_, *files, jobs=1)
    two = run("check", "--format", format_, *files, jobs=2)
    assert one == two
    assert one[0] == 1 and one[1].count(".yaml") > 500  # the corpus has errors to print


def test_check_reports_a_name_used_twice_across_workers(tmp_path, monkeypatch):
    """E215 compares workloads compiled in different processes."""
    monkeypatch.chdir(tmp_path)
    source = (REPO / "examples" / "jobset-heavy-and-workers.yaml").read_text()
    for index in range(parallel.MIN_ITEMS * 2):
        directory = tmp_path / f"d{index:02d}"
        directory.mkdir()
        (directory / "same.yaml").write_text(source)
    one = run("check", str(tmp_path), jobs=1)
    two = run("check", str(tmp_path), jobs=2)
    assert one == two
    assert one[1].count("E215") == parallel.MIN_ITEMS * 2 - 1


def test_diff_of_many_files_prints_the_same_with_one_and_two_workers(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    before = REPO / "examples" / "policies" / "team-a.yaml"
    after = tmp_path / "team-a.yaml"
    after.write_text(before.read_text().replace("team-a", "team-b"))
    files = sorted(str(p) for p in CORPUS.glob("*.yaml"))[:60] + sorted(
        str(p) for p in (REPO / "examples").glob("*.yaml")
    )
    args = ("diff", "--policies-before", str(before), "--policies-after", str(after))
    one = run(*args, "--format", "json", *files, jobs=1)
    two = run(*args, "--format", "json", *files, jobs=2)
    assert one == two
    assert '"manifests": ' in one[1]


def test_golden_over_many_examples_is_the_same_with_one_and_two_workers(tmp_path, monkeypatch):
    examples = tmp_path / "examples"
    shutil.copytree(REPO / "examples", examples)
    for index, path in enumerate(sorted(CORPUS.glob("*.yaml"))[:40]):
        shutil.copyfile(path, examples / f"corpus-{index:02d}.yaml")
    monkeypatch.chdir(tmp_path)
    run("golden", "--update", str(examples), jobs=1)
    goldens = sorted((tmp_path / "golden").glob("*.yaml"))
    assert len(goldens) > parallel.MIN_ITEMS
    goldens[3].write_text(goldens[3].read_text().replace("name:", "name: x", 1))
    one = run("golden", str(examples), jobs=1)
    two = run("golden", str(examples), jobs=2)
    assert one == two
    assert one[0] == 1 and "differ" in one[1]
