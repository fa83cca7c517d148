"""``compile list`` against many jobs on the testbed's real API server (issue 23): time and peak
memory, side by side with ``kubectl get jobsets``. Measured, never asserted by tests.

Starts the testbed's control plane (etcd, kube-apiserver, controllers, kwok; ``make testbed``
builds it), stops its JobSet controller (and removes its webhooks) so that the jobs stay as
created (no Jobs, no pods: the machine is not busy running 10,000 of them while measuring), creates N JobSets as ``compile``
emits them (labelled managed-by manifest-compiler) in a namespace, and runs ``compile list``
(fresh processes, the median; peak RSS of the process itself, bench.py's launcher).

    testbed/isolated .venv/bin/python bench/cluster_list.py [--jobs 10000] [--runs 3] [--json]
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

from bench import COMPILE, EXAMPLE, cold_env, measure, report, timing  # noqa: E402

NAMESPACE = "bench"


def emitted_jobset() -> dict:
    """The JobSet ``compile`` emits for the example, with the label ``compile submit`` relies on."""
    out = subprocess.run(
        [str(COMPILE), EXAMPLE, "-o", "json"], cwd=REPO, capture_output=True, text=True, check=True
    )
    objects = json.loads(out.stdout)
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


def huge_list_row(runs: int, cache: str) -> tuple:
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
        env = {**cold_env(cache), "KUBECONFIG": str(config)}
        run = measure([str(COMPILE), "list", "-n", NAMESPACE], runs, env)
    server.shutdown()
    return (
        f"`compile list` against a server answering {HUGE_ITEMS:,} items (~70 MB) to any list",
        f"{timing(run)}; exit {run.code}",
        "bounded memory, exit 3",
        run.code == 3,
    )


def testbed_rows(jobs: int, runs: int) -> list[tuple]:
    """``compile list`` and ``kubectl get jobsets`` of ``jobs`` JobSets on the testbed."""
    from compiler.cluster.client import connect
    from testbed.controlplane.cluster import ControlPlane

    rows = []
    with ControlPlane() as plane, tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        plane.procs.pop("jobset").stop()  # the jobs stay as created
        # ... and its webhooks go with it (nothing answers them now)
        plane.kubectl(
            "delete", "mutatingwebhookconfigurations,validatingwebhookconfigurations", "--all"
        )
        plane.kubectl("create", "namespace", NAMESPACE)
        env = {**cold_env(cache), "KUBECONFIG": str(plane.kubeconfig)}
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)
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
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000, help="JobSets to create")
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each command")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--huge-only", action="store_true", help="only the 2,000,000-item server")
    options = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        rows.append(huge_list_row(options.runs, cache))
    if not options.huge_only:
        rows += testbed_rows(options.jobs, options.runs)
    report(rows, [], options.json)


if __name__ == "__main__":
    main()
