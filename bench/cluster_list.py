"""The cluster commands on the testbed's real API server, side by side with kubectl (issues 23
and 24, SPEC 7: within 3x of ``kubectl get``): ``compile status``, ``list``, ``logs`` and
``cancel`` of one batch Job, and ``compile list`` of many JobSets (time and peak memory).
Measured, never asserted by tests.

Starts the testbed's control plane (etcd, kube-apiserver, controllers, kwok; ``make testbed``
builds it), stops its JobSet controller (and removes its webhooks) so that the jobs stay as
created (no Jobs, no pods: the machine is not busy running 10,000 of them while measuring), creates N JobSets as ``compile``
emits them (labelled managed-by manifest-compiler) in a namespace, and runs ``compile list``
(fresh processes, the median; peak RSS of the process itself, bench.py's launcher). The
side-by-side rows use a namespace of their own holding one running batch Job (the Job controller
and kwok run its pods and serve their logs), and one more Job for each measured ``cancel``.

With ``--shapes``, also each way the API server can answer a list of the same JobSets (issue
23: which one could make ``compile list`` faster): the JSON list ``compile list`` reads, the
metadata-only list, the Table with and without each object's metadata, and a watch that streams
the list (``sendInitialEvents``): the time, the bytes, and the API server's own CPU time.

    testbed/isolated .venv/bin/python bench/cluster_list.py [--jobs 10000] [--runs 3] [--shapes] [--json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench import COMPILE, EXAMPLE, cold_env, measure, median_run, report, timing  # noqa: E402

NAMESPACE = "bench"


def emitted_jobset() -> dict:
    """The JobSet ``compile`` emits for the example, with the label ``compile submit`` relies on."""
    out = subprocess.run(
        [str(COMPILE), EXAMPLE, "-o", "json"], cwd=REPO, capture_output=True, text=True, check=True
    )
    objects = json.loads(out.stdout)["items"]  # one kind: List, as kubectl prints
    jobset = next(obj for obj in objects if obj["kind"] == "JobSet")
    jobset["metadata"].setdefault("labels", {})["app.kubernetes.io/managed-by"] = (
        "manifest-compiler"
    )
    jobset["metadata"]["namespace"] = NAMESPACE
    return jobset


def create_jobs(kube, template: dict, count: int) -> float:
    """POST ``count`` JobSets (4 at a time); the seconds it took."""
    from compiler.cluster.kinds import JOBSET

    path = JOBSET.path(NAMESPACE)

    def create(index: int) -> None:
        obj = copy.deepcopy(template)
        obj["metadata"]["name"] = f"job-{index:05d}"
        kube.request("POST", path, body=obj, content_type="application/json")

    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, range(count)))
    return time.monotonic() - start


HUGE_ITEMS = 2_000_000


class _HugeList(BaseHTTPRequestHandler):
    """Answers every request with one list of HUGE_ITEMS JobSets (~70 MB), whatever the limit."""

    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        item = b'{"metadata":{"name":"job-%07d","namespace":"bench"}},'
        self.wfile.write(b'{"kind":"JobSetList","apiVersion":"jobset.x-k8s.io/v1alpha2",')
        self.wfile.write(b'"metadata":{},"items":[')
        try:
            for start in range(0, HUGE_ITEMS, 10_000):
                self.wfile.write(b"".join(item % n for n in range(start, start + 10_000)))
            self.wfile.write(b'{"metadata":{"name":"last"}}]}')
        except OSError:  # the client stopped reading
            pass


def huge_list_row(runs: int) -> tuple:
    """``compile list`` against a server that answers 2,000,000 items to any list (issue 23:
    5.6 GB before): peak RSS of the command."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HugeList)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bench-kubeconfig-") as directory:
        config = Path(directory) / "kubeconfig"
        url = f"http://127.0.0.1:{server.server_address[1]}"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "huge",
                    "clusters": [{"name": "huge", "cluster": {"server": url}}],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "huge", "context": {"cluster": "huge", "user": "u"}}],
                }
            )
        )
        env = {**cold_env(), "KUBECONFIG": str(config)}
        run = measure([str(COMPILE), "list", "-n", NAMESPACE], runs, env)
    server.shutdown()
    return (
        f"`compile list` against a server answering {HUGE_ITEMS:,} items (~70 MB) to any list",
        f"{timing(run)}; exit {run.code}",
        "bounded memory, exit 3",
        run.code == 3,
    )


SIDE = "side"
BATCH_JOB = """\
kind: AIchorManifest
apiVersion: 0.2.3
name: {name}
spec:
  operator: batchjob
  image: registry.example.com/prep:2.0
  command: "python -u prep.py"
  annotations:
    testbed.manifest-compiler/outcome: succeed
    testbed.manifest-compiler/run-for: 1h
  types:
    shard:
      count: 1
      resources:
        cpus: 1
        ramRatio: 1
"""


def submit_batch_job(name: str, env: dict, directory: Path) -> None:
    manifest = directory / f"{name}.yaml"
    manifest.write_text(BATCH_JOB.format(name=name))
    subprocess.run(
        [str(COMPILE), "submit", str(manifest), "-n", SIDE, "--allow-dirty"],
        env=env,
        cwd=directory,
        capture_output=True,
        check=True,
    )


def wait_running(plane, name: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pods = plane.kubectl_json("get", "pods", "-n", SIDE, "-l", f"job-name={name}")
        if any((p.get("status") or {}).get("phase") == "Running" for p in pods["items"]):
            return
        time.sleep(0.5)
    raise SystemExit(f"the pod of {name} does not run")


def ratio(run, floor) -> str:
    return f"{timing(run)}; {run.wall / floor.wall:.1f}x `kubectl get`"


def side_by_side_rows(plane, env: dict, runs: int) -> list[tuple]:
    """``compile status/list/logs/cancel`` of a running batch Job beside ``kubectl``."""
    from bench import run_process

    plane.kubectl("create", "namespace", SIDE)
    kubectl = str(plane.kubectl_path)
    with tempfile.TemporaryDirectory(prefix="bench-side-") as directory:
        submit_batch_job("prep", env, Path(directory))
        wait_running(plane, "prep")
        floor = measure([kubectl, "get", "job", "prep", "-n", SIDE], runs, env)
        rows: list[tuple] = [("`kubectl get job prep` (one running Job)", timing(floor), "", None)]
        pairs = [
            ("status prep", ["status", "prep"], ["get", "job", "prep"]),
            ("list", ["list"], ["get", "jobs"]),
            ("logs prep", ["logs", "prep"], ["logs", "job/prep"]),
        ]
        for label, ours, theirs in pairs:
            run = measure([str(COMPILE), *ours, "-n", SIDE], runs, env)
            rows.append(
                (f"`compile {label}`", ratio(run, floor), "< 3x", run.wall < 3 * floor.wall)
            )
            other = measure([kubectl, *theirs, "-n", SIDE], runs, env)
            rows.append((f"`kubectl {' '.join(theirs)}`", timing(other), "", None))
        cancelled, deleted = [], []
        for index in range(runs):
            for prefix in ("cancel", "delete"):
                submit_batch_job(f"{prefix}-{index}", env, Path(directory))
                wait_running(plane, f"{prefix}-{index}")
            cancelled.append(
                run_process([str(COMPILE), "cancel", f"cancel-{index}", "-n", SIDE], env)
            )
            deleted.append(
                run_process(
                    [kubectl, "delete", "job", f"delete-{index}", "-n", SIDE]
                    + ["--cascade=foreground", "--wait"],
                    env,
                )
            )
        run, other = median_run(cancelled), median_run(deleted)
        rows.append(
            (
                "`compile cancel` (waits until gone)",
                ratio(run, floor),
                "< 3x",
                run.wall < 3 * floor.wall,
            )
        )
        rows.append(("`kubectl delete job --cascade=foreground --wait`", timing(other), "", None))
    return rows


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
SHAPES = {  # label -> (Accept, query): what the API server can answer to a list of JobSets
    "JSON list (what `compile list` asks)": ("application/json", {}),
    "PartialObjectMetadataList": (
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
        {},
    ),
    "Table, includeObject=Metadata": (TABLE, {"includeObject": "Metadata"}),
    "Table, includeObject=None": (TABLE, {"includeObject": "None"}),
    "watch-list (sendInitialEvents, one stream)": (
        "application/json",
        {
            "watch": "1",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
        },
    ),
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_shape(kube, accept: str, query: dict) -> int:
    """Every page of the bench namespace's JobSets as ``accept``, 250 a page (a watch-list: up
    to the bookmark that ends its initial events); the bytes read."""
    from urllib.parse import urlencode

    from compiler.cluster.kinds import JOBSET, MANAGED_BY_SELECTOR
    from compiler.cluster.transport import read_chunk

    path, total, token = JOBSET.path(NAMESPACE), 0, None
    streaming = "watch" in query
    while True:
        asked = {**query, "labelSelector": MANAGED_BY_SELECTOR}
        if not streaming:
            asked.update(limit="250", **({"continue": token} if token else {}))
        raw = kube.api.send("GET", f"{path}?{urlencode(asked)}", {"Accept": accept}, None, 60, 60)
        chunks = [b""]
        while chunk := read_chunk(raw, 1 << 16):
            chunks.append(chunk)
            if streaming and b"k8s.io/initial-events-end" in chunks[-2][-200:] + chunk:
                break
        kube.api.release(raw)
        total += sum(map(len, chunks))
        if streaming:
            return total
        token = (json.loads(b"".join(chunks)).get("metadata") or {}).get("continue")
        if not token:
            return total


def shape_rows(kube, apiserver_pid: int, runs: int, jobs: int) -> list[tuple]:
    """Each answer SHAPES can have, read ``runs`` times in turns: the median wall time, the bytes
    and the API server's CPU time (the part other load does not inflate as much)."""
    import statistics

    samples: dict[str, list[tuple[float, float, int]]] = {label: [] for label in SHAPES}
    for _ in range(runs):
        for label, (accept, query) in SHAPES.items():
            cpu, start = cpu_seconds(apiserver_pid), time.monotonic()
            size = read_shape(kube, accept, query)
            samples[label].append(
                (time.monotonic() - start, cpu_seconds(apiserver_pid) - cpu, size)
            )
    rows = []
    for label, taken in samples.items():
        wall = statistics.median(t[0] for t in taken)
        cpu = statistics.median(t[1] for t in taken)
        rows.append(
            (
                f"{label} of {jobs:,} JobSets, 250 a page",
                f"{wall * 1000:,.0f} ms wall, API server {cpu * 1000:,.0f} ms CPU, "
                f"{taken[0][2] / 1e6:.1f} MB",
                "",
                None,
            )
        )
    return rows


def testbed_rows(jobs: int, runs: int, shapes: bool = False) -> list[tuple]:
    """``compile list`` and ``kubectl get jobsets`` of ``jobs`` JobSets on the testbed."""
    from compiler.cluster.client import connect
    from testbed.controlplane.cluster import ControlPlane

    rows = []
    with ControlPlane() as plane:
        plane.procs.pop("jobset").stop()  # the jobs stay as created
        # ... and its webhooks go with it (nothing answers them now)
        plane.kubectl(
            "delete", "mutatingwebhookconfigurations,validatingwebhookconfigurations", "--all"
        )
        plane.kubectl("create", "namespace", NAMESPACE)
        env = {**cold_env(), "KUBECONFIG": str(plane.kubeconfig)}
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)
        rows += side_by_side_rows(plane, env, runs)
        if jobs == 0:
            return rows
        kube = connect(namespace=NAMESPACE, timeout=60)
        created = create_jobs(kube, emitted_jobset(), jobs)
        listed = subprocess.run(
            [str(COMPILE), "list", "-n", NAMESPACE],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        shown = len(listed.stdout.splitlines()) - 1
        run = measure([str(COMPILE), "list", "-n", NAMESPACE], runs, env)
        rows.append(
            (
                f"`compile list` of {jobs:,} JobSets (testbed kube-apiserver)",
                f"{timing(run)}; {shown:,} rows",
                "< 2 s, < 100 MB",
                run.wall < 2 and run.rss_mib < 100 and shown == jobs,
            )
        )
        kubectl = measure([str(plane.kubectl_path), "get", "jobsets", "-n", NAMESPACE], runs, env)
        rows.append(
            (
                f"`kubectl get jobsets` of the same {jobs:,}",
                timing(kubectl),
                "",
                None,
            )
        )
        rows.append((f"creating the {jobs:,} JobSets (4 at a time)", f"{created:.0f} s", "", None))
        if shapes:
            from testbed.controlplane import apiserver

            rows += shape_rows(kube, plane.procs[apiserver.NAME].pid, runs, jobs)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--jobs", type=int, default=10_000, help="JobSets to create (0: the side-by-side rows only)"
    )
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each command")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--huge-only", action="store_true", help="only the 2,000,000-item server")
    parser.add_argument(
        "--shapes", action="store_true", help="also each answer a list of JobSets can have"
    )
    options = parser.parse_args(argv)

    rows = []
    rows.append(huge_list_row(options.runs))
    if not options.huge_only:
        rows += testbed_rows(options.jobs, options.runs, options.shapes)
    report(rows, [], options.json)


if __name__ == "__main__":
    main()
