"""What ``compile golden`` and ``compile diff`` do, as functions that return results; the command
line only parses arguments and renders. ``map_`` runs a function over items (in worker processes
when the command line says so) and yields the results in order."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .compiled import Compiled
from .diff import UNCHANGED, DiffResult, compare
from .files import (
    golden_stems,
    make_dirs,
    option_dirs,
    read_bytes,
    remove,
    stem,
    top_level_yaml,
    write_atomically,
)
from .golden import DIFFERENT, EXTRA, FAILED, MISSING, GoldenResult, compare_golden, pair_stems
from .outputs import admission_text, compile_file, compile_read, queues_of, relative_paths
from .revisions import Side

if TYPE_CHECKING:
    from ..catalog import PathCatalog

Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[Any]]

QUEUES_GOLDEN = os.path.join("kueue", "queues.yaml")
ADMISSION_GOLDEN = os.path.join("admission", "policies.yaml")


def _in_order(function: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
    return map(function, items)


# ---------------------------------------------------------------------------------------------
# compile golden


def compile_examples(directory: str, map_: Mapper = _in_order) -> dict[str, Compiled]:
    """{stem: Compiled} for the files of DIRECTORY/*.yaml that hold a workload (or cannot be read)."""
    policies, templates = option_dirs(directory)
    paths = top_level_yaml(directory)
    compile_one = functools.partial(compile_file, policies=policies, templates=templates)
    compiled = {}
    for path, (result, holds_workload) in zip(paths, map_(compile_one, paths), strict=True):
        if holds_workload:
            compiled[stem(path)] = result
    return compiled


def golden_results(
    directory: str, golden_dir: str, compiled: dict[str, Compiled]
) -> list[GoldenResult]:
    """Each example's output against its golden file, then the queues' and admission policies'."""
    results = []
    for name, _, has_golden in pair_stems(list(compiled), golden_stems(golden_dir)):
        golden_path = os.path.join(golden_dir, f"{name}.yaml")
        expected = read_bytes(golden_path) if has_golden else None
        results.append(compare_golden(name, golden_path, expected, compiled.get(name)))
    return results + _queue_golden(directory, golden_dir) + _admission_golden(directory, golden_dir)


def _queue_golden(directory: str, golden_dir: str) -> list[GoldenResult]:
    """golden/kueue/queues.yaml holds ``compile queues -p DIRECTORY/policies`` when the policies
    give a quota: a quota change shows in review like any other change of output."""
    policies, _ = option_dirs(directory)
    golden_path = os.path.join(golden_dir, QUEUES_GOLDEN)
    expected = read_bytes(golden_path)
    compiled = queues_of(policies) if policies else None
    if compiled is None and expected is None:
        return []
    return [compare_golden("kueue/queues", golden_path, expected, compiled)]


def _admission_golden(directory: str, golden_dir: str) -> list[GoldenResult]:
    """golden/admission/policies.yaml holds ``compile admission -p DIRECTORY/policies``."""
    policies, _ = option_dirs(directory)
    golden_path = os.path.join(golden_dir, ADMISSION_GOLDEN)
    expected = read_bytes(golden_path)
    if not policies and expected is None:
        return []
    compiled = None
    if policies:
        text, diagnostics = admission_text(policies)
        compiled = Compiled(f"compile admission -p {policies[0]}", text, tuple(diagnostics))
    return [compare_golden("admission/policies", golden_path, expected, compiled)]


def update_golden(
    results: list[GoldenResult], golden_dir: str
) -> Iterator[tuple[str, GoldenResult]]:
    """Rewrite what differs, write what is missing, remove what has no example; yields (what was
    done, result). Each file is replaced whole (temporary file + rename): old or new, never partial."""
    make_dirs(golden_dir)
    for r in results:
        if r.status in (DIFFERENT, MISSING):
            assert r.text is not None  # an example that compiled
            make_dirs(os.path.dirname(r.golden))
            write_atomically(r.golden, r.text.encode("utf-8"))
            yield ("updated" if r.status == DIFFERENT else "wrote"), r
        elif r.status == EXTRA:
            remove(r.golden)
            yield "removed", r
        elif r.status == FAILED:
            yield "kept", r


# ---------------------------------------------------------------------------------------------
# compile diff


def diff_all(
    manifests: Sequence[str],
    before: Side,
    after: Side,
    project: str | None,
    config: Any,
    map_: Mapper = _in_order,
) -> tuple[list[DiffResult], list]:
    """Every manifest compiled on both sides and compared; and the E006s met (unreadable files).

    Each side's policies and templates are read once, here, before any worker starts; each
    manifest is read once, for both sides."""
    from ..catalog import read_path_catalog
    from ..config import Config

    only_project = Config(config.file, project=config.project)
    results, environment = [], []
    both_sides = _BothSides(
        before,
        after,
        read_path_catalog(before.policies, before.templates),
        read_path_catalog(after.policies, after.templates),
        project,
        only_project,
    )
    for compared in map_(both_sides, list(manifests)):
        if compared is not None:
            result, problems = compared
            results.append(result)
            environment += problems
    return results, environment


@dataclass(frozen=True)
class _BothSides:
    """One manifest compiled before and after, compared: (the comparison, its E006s), or None
    when the file holds no workload. Runs in this process or in a worker."""

    before: Side
    after: Side
    before_paths: PathCatalog
    after_paths: PathCatalog
    project: str | None
    config: object

    def __call__(self, path: str):
        from ..sources import read_file

        before, after = self.before, self.after
        read = read_file(path)
        old, holds_workload = compile_read(path, read, self.before_paths, self.project, self.config)
        if not holds_workload:
            return None
        new, _ = compile_read(path, read, self.after_paths, self.project, self.config)
        environment = [d for d in old.diagnostics + new.diagnostics if d.code == "E006"]
        old = Compiled(old.file, old.text, before.relabel(old.diagnostics))
        new = Compiled(new.file, new.text, after.relabel(new.diagnostics))
        return compare(old, new), environment


def quota_changes(before: Side, after: Side) -> list[str]:
    """``team-a: gpus 16 → 8``: what ``compile queues`` would hold differently after the change."""
    from ..queues import quota_changes as changes
    from ..queues.kueue import summary_of
    from ..sources import read_all

    def summary(side: Side) -> dict:
        documents, _ = read_all(side.policies)
        return summary_of(documents)

    return changes(summary(before), summary(after))


def admission_diff(before: Side, after: Side) -> list[DiffResult]:
    """One more entry of ``compile diff`` when the admission policies of the two sides differ."""
    if not before.policies and not after.policies:
        return []
    label = "admission policies (compile admission)"
    sides = []
    for side in (before, after):
        text, diagnostics = admission_text(side.policies) if side.policies else ("", [])
        if text:
            text = relative_paths(text, side.policies)
        sides.append(Compiled(label, text, side.relabel(diagnostics)))
    result = compare(*sides)
    return [] if result.status == UNCHANGED else [result]
