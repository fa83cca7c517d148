"""The SPEC 7 quality targets, measured (never asserted by tests), in one table:

- ``compile check`` over ../shared/corpus/aichor: in one process after start-up (>= 500 manifests/s),
  and as a fresh process with 1 worker and with every core (COMPILE_JOBS);
- cold ``compile examples/jobset-heavy-and-workers.yaml`` and ``compile check`` of it: <= 2x the
  floor (``python -c 'import yaml'`` in the same environment), cold ``compile --help`` <= 1.3x;
  each with the peak RSS of the process and, with valgrind, its instructions against the floor's;
- kubeconform v0.8.0 ``-strict -n 1`` validating the objects compiled from the in-scope corpus files
  against ``compile check`` of their sources (each under its original file name): ratio <= 0.5
  with every core (bench/kubeconform.py builds kubeconform when Go is there, else it is skipped);
- ``compile diff`` of a one-line policy change over 10x the corpus (each file its own name)
  against ``compile check`` of the same files under the same policies: ratio <= 2.2;
- growth: ``check`` over the corpus and over 10x the corpus (the files repeated), time and memory;
- the largest manifest the object-size limit allows: time and peak memory;
- compile time and output size for ``count: 10`` and ``count: 100000`` alike.

Fresh processes run in the environment as installed, with PYTHONDONTWRITEBYTECODE set: the note
"bytecode of the environment" says how many of the modules a cold compile imports had bytecode on
disk (`make install` compiles all of them; an environment without it pays their compilation on
every run).

Every ratio is of commands run side by side in this one run, in turns, the fastest of each: other
load on the machine only ever adds time. Instruction counts (callgrind) do not depend on load at all.

    .venv/bin/python bench/bench.py [--runs N] [--cold-runs N] [--big-runs N] [--json]
    .venv/bin/python bench/bench.py --limit 20 --growth 2 --runs 1 --cold-runs 1 --big-runs 1  # quick
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "aichor"
EXAMPLE = "examples/jobset-heavy-and-workers.yaml"
COMPILE = REPO / ".venv" / "bin" / "compile"
JOBS_ENV = "COMPILE_JOBS"  # worker processes of check/diff/golden (compiler/cli/parallel.py)

SCALING_MANIFEST = """\
kind: AIchorManifest
apiVersion: 0.2.2
name: scale
builder: {{image: img}}
spec:
  operator: {operator}
  image: img
  command: python train.py
  types:
{types}
"""
MAP_TYPES = """\
    worker:
      count: {count}
      resources: {{cpus: 1, ramRatio: 2}}"""
RAY_TYPES = """\
    Head:
      resources: {{cpus: 1, ramRatio: 2}}
    Workers:
      - name: cpu
        count: {count}
        resources: {{cpus: 1, ramRatio: 2}}"""


def median_seconds(action, runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


# ---------------------------------------------------------------------------------------------
# (a) throughput in one process


def in_process_check(paths: list[str]) -> int:
    """``compile check PATHS`` through the real command, output discarded; returns its exit code."""
    from compiler.cli.app import cli

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli.main(args=["check", *paths], prog_name="compile", standalone_mode=False)
        except SystemExit as exit_:
            return int(exit_.code or 0)
    return 0


def corpus_throughput(runs: int, limit: int | None = None) -> tuple[int, float, float]:
    """(files, median wall seconds, median CPU seconds) of ``compile check`` over the corpus."""
    files = sorted(str(p) for p in CORPUS.glob("*.yaml"))[:limit]
    in_process_check(files[:5])  # start-up: imports, model and adapter construction
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        in_process_check(files)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return len(files), statistics.median(walls), statistics.median(cpus)


# ---------------------------------------------------------------------------------------------
# (b) processes: wall, CPU and peak memory of one command


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # seconds, user + system, of the process and the workers it waited for
    rss_mib: float  # peak resident set of the largest process (the command or one of its workers)
    code: int


# A small launcher runs each measured command, so that the command's peak RSS is its own: a
# process started straight from this one would count this process's memory too (Linux carries
# the resident high-water mark of the address space a process replaces at exec).
LAUNCHER = """
import json, os, sys, time
null = os.open(os.devnull, os.O_RDWR)
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(null, 0); os.dup2(null, 1); os.dup2(null, 2)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps([wall, cpu, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def run_process(argv: list[str], env: dict, cwd: Path = REPO) -> Run:
    launched = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu, rss_kib, code = json.loads(launched.stdout)
    return Run(wall, cpu, rss_kib / 1024, code)


def median_run(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu for r in runs),
        max(r.rss_mib for r in runs),
        max(r.code for r in runs),
    )


def measure(argv: list[str], runs: int, env: dict, cwd: Path = REPO) -> Run:
    """Median of ``runs`` fresh processes, after one unmeasured run (files in the OS cache)."""
    run_process(argv, env, cwd)
    return median_run([run_process(argv, env, cwd) for _ in range(runs)])


def side_by_side(commands: dict[str, tuple[list[str], dict]], runs: int, cwd: Path = REPO) -> dict:
    """{label: the fastest of ``runs`` fresh processes} for each (argv, env), run in turns after one
    unmeasured round, so that a busy neighbour slows every command alike; the minimum, because
    other load only ever adds time."""
    for argv, env in commands.values():
        run_process(argv, env, cwd)
    samples: dict[str, list[Run]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, (argv, env) in commands.items():
            samples[label].append(run_process(argv, env, cwd))
    return {label: min(runs_of, key=lambda r: r.wall) for label, runs_of in samples.items()}


def cold_env(jobs: int | None = None) -> dict:
    """The environment of an installed tool, as it was installed: PYTHONDONTWRITEBYTECODE is set (as
    on this machine kind and in many CI images), so the runs use the bytecode that the install wrote
    and never add any; what is missing is compiled again by every run, and ``bytecode_census`` says
    how much that is. ``jobs``: COMPILE_JOBS, the worker processes of ``check``/``diff``/``golden``
    (None: automatic)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPYCACHEPREFIX", JOBS_ENV)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if jobs is not None:
        env[JOBS_ENV] = str(jobs)
    return env


CENSUS = """
import contextlib, importlib.util, io, json, os, sys
from compiler.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(sys.argv[1:])
sources = [m.__spec__.origin for m in list(sys.modules.values())
           if getattr(m, "__spec__", None) and (m.__spec__.origin or "").endswith(".py")]
def fresh(source):  # bytecode on disk that Python will use: its header names the source's mtime
    try:
        with open(importlib.util.cache_from_source(source), "rb") as pyc:
            header = pyc.read(16)
        return int.from_bytes(header[8:12], "little") == int(os.stat(source).st_mtime) & 0xFFFFFFFF
    except OSError:
        return False
cached = [s for s in sources if fresh(s)]
print(json.dumps([len(cached), len(sources)]))
"""


def bytecode_census(args: list[str]) -> tuple[int, int]:
    """(modules with bytecode on disk, modules imported) for ``compile ARGS`` in this environment."""
    python = COMPILE.with_name("python")
    result = subprocess.run(
        [str(python), "-c", CENSUS, *args],
        cwd=REPO,
        env=cold_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    cached, imported = json.loads(result.stdout.splitlines()[-1])
    return cached, imported


def instructions(argv: list[str], env: dict) -> int | None:
    """Instructions the process executes, counted by callgrind (None without valgrind): unlike
    time, the same on a busy or idle machine, so a change to start-up shows in it exactly."""
    if shutil.which("valgrind") is None:
        return None
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[-1].strip())
    return None


def timing(run: Run) -> str:
    return f"{run.wall * 1000:,.0f} ms wall, {run.cpu * 1000:,.0f} ms CPU, {run.rss_mib:,.0f} MiB peak RSS"


# ---------------------------------------------------------------------------------------------
# start-up against the floor: the interpreter starting and importing PyYAML

FLOOR = ["-c", "import yaml"]
COLD = (  # label, arguments, at most this many times the floor (SPEC 7)
    (f"cold `compile {EXAMPLE}`", [EXAMPLE], 2.0),
    (f"cold `compile check {EXAMPLE}`", ["check", EXAMPLE], 2.0),
    ("cold `compile --help`", ["--help"], 1.3),
)


def cold_rows(runs: int) -> list:
    """The cold commands and the floor, side by side (fastest of ``runs`` each), and each one's
    instructions (callgrind) against the floor's: a ratio that no neighbour's load changes."""
    env = cold_env()
    python = str(COMPILE.with_name("python"))
    commands = {"floor": ([python, *FLOOR], env)}
    commands |= {label: ([str(COMPILE), *args], env) for label, args, _ in COLD}
    best = side_by_side(commands, runs)
    counted = {label: instructions(argv, env) for label, (argv, _) in commands.items()}
    floor, floor_count = best["floor"], counted["floor"]
    rows = [
        (
            "floor: `python -c 'import yaml'` in the same environment",
            timing(floor) + (f"; {floor_count / 1e6:,.0f} M instructions" if floor_count else ""),
            "",
            None,
        )
    ]
    for label, _, most in COLD:
        run, count = best[label], counted[label]
        ratio = run.wall / floor.wall
        result = f"{timing(run)}; **{ratio:.2f}x** the floor's wall time"
        met = ratio <= most
        if count and floor_count:
            result += f", {count / 1e6:,.0f} M instructions = **{count / floor_count:.2f}x** its"
            met = count / floor_count <= most
        rows.append((label, result, f"<= {most}x the floor", met))
    return rows


# ---------------------------------------------------------------------------------------------
# (c) output size and time against count


def compile_text(text: str, name: str) -> str:
    from compiler.catalog import build_catalog
    from compiler.parse import load_documents
    from compiler.pipeline import Options, compile_documents
    from compiler.render import to_yaml

    documents, problems = load_documents(text.encode(), name)
    units = compile_documents(documents, build_catalog(documents), Options())
    errors = [d for d in problems + [d for u in units for d in u.diagnostics] if d.is_error]
    if errors:
        raise SystemExit(f"{name} does not compile: {errors[0].message}")
    return to_yaml([obj for unit in units for obj in unit.objects])


def scaling(operator: str, count: int, runs: int) -> tuple[float, int]:
    template = RAY_TYPES if operator == "kuberay" else MAP_TYPES
    text = SCALING_MANIFEST.format(operator=operator, types=template.format(count=count))
    output = compile_text(text, f"{operator}-{count}.yaml")
    return median_seconds(lambda: compile_text(text, f"{operator}-{count}.yaml"), runs), len(
        output.encode()
    )


# ---------------------------------------------------------------------------------------------
# (d) the same manifests: `compile check` of the sources, kubeconform of the compiled objects


def in_scope_tree(root: Path, limit: int | None) -> tuple[Path, Path, set, int]:
    """The corpus files that compile, each under its original file name in a directory of its
    own (``src/NNN/manifest.yaml``), and what ``compile`` emits for it (``out/NNN/manifest.yaml``).
    Returns (src, out, the (apiVersion, kind)s emitted, files)."""
    import corpus_lib

    from compiler.render import to_yaml

    basenames = corpus_lib.original_basenames()
    src, out = root / "src", root / "out"
    kinds: set = set()
    written = 0
    for path in corpus_lib.corpus_files():
        if limit is not None and written >= limit:
            break
        target = src / f"{written:03d}" / basenames[path.name]
        target.parent.mkdir(parents=True)
        shutil.copyfile(path, target)
        outcome = corpus_lib.compile_file(target)  # the name comes from the original file name
        if outcome.category != corpus_lib.COMPILED:
            shutil.rmtree(target.parent)
            continue
        emitted = out / f"{written:03d}" / basenames[path.name]
        emitted.parent.mkdir(parents=True)
        emitted.write_text(to_yaml(outcome.objects))
        kinds |= {(obj["apiVersion"], obj["kind"]) for obj in outcome.objects}
        written += 1
    return src, out, kinds, written


def kubeconform_rows(runs: int, limit: int | None) -> tuple[list, list[str]]:
    """Rows comparing ``compile check`` with kubeconform ``-strict -n 1``; notes to print."""
    import kubeconform

    binary, note = kubeconform.binary()
    if binary is None:
        return [], [note]
    notes = [note]
    with tempfile.TemporaryDirectory(prefix="bench-kubeconform-") as scratch:
        root = Path(scratch)
        src, out, kinds, files = in_scope_tree(root, limit)
        schemas = kubeconform.write_schemas(root / "schemas", kinds)
        notes.append(f"kubeconform schemas: CRDs converted from ../shared/crds; {schemas.note}")
        checker = kubeconform.command(binary, schemas, [str(out)])
        verdict = subprocess.run(checker, capture_output=True, text=True)
        notes.append(
            f"kubeconform on the compiled objects: {verdict.stdout.strip().splitlines()[-1]}"
        )
        compile_check = [str(COMPILE), "check", str(src)]
        cores = os.cpu_count() or 1
        results = side_by_side(
            {
                "kubeconform": (checker, dict(os.environ)),
                "check 1": (compile_check, cold_env(1)),
                f"check {cores}": (compile_check, cold_env(cores)),
            },
            runs,
            root,
        )
    base = results.pop("kubeconform")
    rows = [
        (
            f"kubeconform {kubeconform.VERSION} `-strict -n 1` on the objects compiled from "
            f"{files} in-scope corpus files",
            timing(base),
            "",
            None,
        )
    ]
    for label, run in results.items():
        jobs = label.split()[1]
        rows.append(
            (
                f"`compile check` of the same {files} sources, {jobs} worker(s) "
                "(parse, resolve, validate, emit)",
                f"{timing(run)}; **{run.wall / base.wall:.2f}x** kubeconform's wall time, "
                f"{run.cpu / base.cpu:.2f}x its CPU time",
                "<= 0.5x (every core)" if jobs != "1" else "",
                run.wall <= 0.5 * base.wall if jobs != "1" else None,
            )
        )
    return rows, notes


# ---------------------------------------------------------------------------------------------
# (e) growth: `check` over the corpus repeated, and the largest input the limits allow


def repeated_corpus(root: Path, times: int, limit: int | None) -> int:
    """``times`` copies of the corpus (its files, each copy in its own directory); files written."""
    files = sorted(CORPUS.glob("*.yaml"))[:limit]
    for copy in range(times):
        directory = root / f"{copy:02d}"
        directory.mkdir(parents=True)
        for path in files:
            shutil.copyfile(path, directory / path.name)
    return len(files) * times


def growth_rows(runs: int, times: int, limit: int | None) -> list:
    env = cold_env(1)
    measured = []
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as scratch:
        for factor in (1, times):
            root = Path(scratch) / f"x{factor}"
            files = repeated_corpus(root, factor, limit)
            measured.append((factor, files, measure([str(COMPILE), "check", str(root)], runs, env)))
    rows = [
        (
            f"`compile check` over {files:,} files ({factor}x the corpus), 1 worker",
            f"{timing(run)}; {files / run.wall:,.0f} files/s",
            "linear",
            None,
        )
        for factor, files, run in measured
    ]
    (_, _, one), (_, _, many) = measured
    rows.append(
        (
            f"growth from 1x to {times}x the corpus",
            f"time x{many.wall / one.wall:.1f}, CPU x{many.cpu / one.cpu:.1f}, "
            f"peak RSS x{many.rss_mib / one.rss_mib:.2f}",
            f"time <= x{times}",
            many.wall <= one.wall * times,
        )
    )
    return rows


# ---------------------------------------------------------------------------------------------
# (f) a policy review: `compile diff` of a one-line policy change against `compile check`

POLICY_CHANGE = ("policies/global.yaml", "spec.timeout: {max: 14d}", "spec.timeout: {max: 7d}")


def uniquely_named_corpus(root: Path, times: int, limit: int | None) -> int:
    """``times`` copies of the corpus in one directory, each file under its own name (as the
    manifests of many repositories are); files written."""
    root.mkdir(parents=True)
    files = sorted(CORPUS.glob("*.yaml"))[:limit]
    for copy in range(times):
        for path in files:
            shutil.copyfile(path, root / f"{path.stem}__{copy:02d}.yaml")
    return len(files) * times


def policy_sides(root: Path) -> tuple[Path, Path]:
    """before/ and after/, each with the examples' policies/ and templates/; after/ with one line
    of one policy changed (a rule every workload is checked against)."""
    sides = root / "before", root / "after"
    for side in sides:
        for part in ("policies", "templates"):
            shutil.copytree(REPO / "examples" / part, side / part)
    changed, old, new = POLICY_CHANGE
    text = (sides[1] / changed).read_text()
    assert old in text, f"examples/{changed} no longer has {old!r}"
    (sides[1] / changed).write_text(text.replace(old, new))
    return sides


def diff_rows(runs: int, times: int, limit: int | None) -> list:
    env = cold_env()
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as scratch:
        root = Path(scratch)
        files = uniquely_named_corpus(root / "manifests", times, limit)
        before, after = policy_sides(root)
        best = side_by_side(
            {
                "check": (
                    [str(COMPILE), "check", "-p", str(after / "policies")]
                    + ["-t", str(after / "templates"), str(root / "manifests")],
                    env,
                ),
                "diff": (
                    [str(COMPILE), "diff", "--before", str(before), "--after", str(after)]
                    + [str(root / "manifests")],
                    env,
                ),
            },
            runs,
        )
    check, diff = best["check"], best["diff"]
    return [
        (
            f"`compile check -p -t` of {files:,} files ({times}x the corpus, each its own file "
            "name), every core",
            timing(check),
            "",
            None,
        ),
        (
            f"`compile diff` of a one-line policy change ({POLICY_CHANGE[0]}) over the same "
            f"{files:,} files, every core",
            f"{timing(diff)}; **{diff.wall / check.wall:.2f}x** `check`'s wall time, "
            f"{diff.cpu / check.cpu:.2f}x its CPU time",
            "<= 2.2x",
            diff.wall <= 2.2 * check.wall,
        ),
    ]


def manifest_with_env(entries: int, value_bytes: int) -> str:
    head = SCALING_MANIFEST.format(operator="jobset", types=MAP_TYPES.format(count=2))
    value = "x" * value_bytes
    return head + "  env:\n" + "".join(f"    V{i:06d}: {value}\n" for i in range(entries))


def compiles(text: str) -> bool:
    try:
        compile_text(text, "largest.yaml")
    except SystemExit:
        return False
    return True


def largest_manifest(value_bytes: int = 4000) -> str:
    """The largest manifest that still compiles: as many env variables of ``value_bytes`` as the
    object-size limit (E313: what the API server stores in one object) lets through, found by
    bisection, so that it follows the limit wherever it is set."""
    low, high = 1, 2
    while compiles(manifest_with_env(high, value_bytes)):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (
            (middle, high) if compiles(manifest_with_env(middle, value_bytes)) else (low, middle)
        )
    return manifest_with_env(low, value_bytes)


def largest_rows(runs: int) -> list:
    text = largest_manifest()
    env = cold_env()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-largest-") as scratch:
        path = Path(scratch) / "largest.yaml"
        path.write_text(text)
        for args in ([str(path)], ["check", str(path)]):
            run = measure([str(COMPILE), *args], runs, env)
            command = " ".join(["compile", *args[:-1], "largest.yaml"])
            rows.append(
                (
                    f"`{command}`: the largest manifest the object-size limit allows "
                    f"({len(text.encode()):,} bytes), exit {run.code}",
                    timing(run),
                    "bounded",
                    None,
                )
            )
    return rows


# ---------------------------------------------------------------------------------------------


def report(rows: list, notes: list[str], as_json: bool) -> None:
    """The rows as a Markdown table (or JSON), with the load average while measuring."""
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    if as_json:
        keys = ("measure", "result", "target", "met")
        print(
            json.dumps(
                {
                    "load_average": load,
                    "cpus": os.cpu_count(),
                    "notes": notes,
                    "rows": [dict(zip(keys, row, strict=True)) for row in rows],
                },
                indent=2,
            )
        )
        return
    print(f"load average while measuring: {load} on {os.cpu_count()} CPUs")
    for note in notes:
        print(f"note: {note}")
    print("\n| measure | result | target | met |")
    print("| --- | --- | --- | --- |")
    for label, result, target, met in rows:
        print(
            f"| {label} | {result} | {target} | {'' if met is None else ('yes' if met else 'NO')} |"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="in-process corpus runs (median)")
    parser.add_argument("--cold-runs", type=int, default=11, help="cold-start runs (median)")
    parser.add_argument(
        "--big-runs", type=int, default=3, help="runs of the large measures (median)"
    )
    parser.add_argument(
        "--growth", type=int, default=10, help="the corpus repeated this many times"
    )
    parser.add_argument("--limit", type=int, help="use only the first N corpus files (quick runs)")
    parser.add_argument("--no-kubeconform", action="store_true", help="skip the comparison")
    parser.add_argument("--no-largest", action="store_true", help="skip the largest manifest")
    parser.add_argument("--no-diff", action="store_true", help="skip `diff` against `check`")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    options = parser.parse_args(argv)
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    notes: list[str] = []

    files, wall, cpu = corpus_throughput(options.runs, options.limit)
    rows = [
        (
            "`compile check` over the corpus, one process, after start-up",
            f"{files / wall:,.0f} manifests/s wall, {files / cpu:,.0f} manifests/s CPU ({files} files)",
            ">= 500 manifests/s",
            files / wall >= 500,
        )
    ]
    cores = os.cpu_count() or 1
    corpus = sorted(str(p) for p in CORPUS.glob("*.yaml"))[: options.limit]
    for jobs in sorted({1, cores}):
        run = measure([str(COMPILE), "check", *corpus], options.big_runs, cold_env(jobs))
        rows.append(
            (
                f"`compile check` of the {len(corpus)} corpus files, {jobs} worker(s), "
                "a fresh process",
                f"{len(corpus) / run.wall:,.0f} manifests/s; {timing(run)}",
                "every core" if jobs > 1 else "",
                None,
            )
        )
    cached, imported = bytecode_census([EXAMPLE])
    notes.append(
        f"bytecode of the environment: present for {cached} of the {imported} modules that a cold "
        f"`compile {EXAMPLE}` imports"
        + (
            " (all present)"
            if cached == imported
            else f" ({imported - cached} compiled again on every run)"
        )
    )
    rows += cold_rows(options.cold_runs)
    if options.no_kubeconform:
        notes.append("kubeconform comparison skipped (--no-kubeconform)")
    else:
        more_rows, more_notes = kubeconform_rows(options.big_runs, options.limit)
        rows += more_rows
        notes += more_notes
    rows += growth_rows(options.big_runs, options.growth, options.limit)
    if not options.no_diff:
        rows += diff_rows(options.big_runs, options.growth, options.limit)
    if not options.no_largest:
        rows += largest_rows(options.big_runs)
    sizes = {}
    for operator in ("jobset", "kuberay"):
        for count in (10, 100_000):
            seconds, size = scaling(operator, count, 5)
            sizes[(operator, count)] = size
            rows.append(
                (
                    f"{operator} `count: {count}`: compile time, output size",
                    f"{seconds * 1000:.1f} ms, {size:,} bytes",
                    "same for 10 and 100000",
                    None,
                )
            )
    for operator in ("jobset", "kuberay"):
        grows = sizes[(operator, 100_000)] - sizes[(operator, 10)]
        rows.append(
            (
                f"{operator}: output growth from count 10 to 100000",
                f"{grows} bytes",
                "only the digits of the counts",
                grows < 100,
            )
        )

    report(rows, notes, options.json)


if __name__ == "__main__":
    main()
