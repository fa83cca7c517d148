"""``compile admit --live`` with 1,000 pending Workloads in the cluster (SPEC §7: under 1 s).
Measured, never asserted by tests.

A loopback fake API server (tests/fake_apiserver.py, HTTPS with a client certificate, lists
served page by page as a real one does) holds the Kueue objects ``compile queues`` makes of
examples/policies and N Workloads as Kueue makes them of the example JobSet (its pod sets with
whole pod templates), most pending in team-a's queue, some admitted; ``compile admit --live``
of the example runs in fresh processes (the median; bench.py's launcher).

    .venv/bin/python bench/admit_live.py [--workloads 1000] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

from fake_apiserver import Answer, Serving, kubeconfig, listed, make_pki, not_found  # noqa: E402

from bench import COMPILE, cold_env, measure, report, timing  # noqa: E402

POLICIES = "examples/policies"
EXAMPLE = "examples/jobset-ten-workers.yaml"
TARGET_SECONDS = 1.0
KINDS = {
    "clusterqueues": "ClusterQueue",
    "resourceflavors": "ResourceFlavor",
    "localqueues": "LocalQueue",
    "workloadpriorityclasses": "WorkloadPriorityClass",
    "cohorts": "Cohort",
    "workloads": "Workload",
    "limitranges": "LimitRange",
}


def _compiled(*args: str) -> list[dict]:
    out = subprocess.run(
        [str(COMPILE), *args, "-o", "json"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)["items"]  # one kind: List, as kubectl prints


def workloads(count: int, jobset: dict, queue: str, namespace: str, priority: int) -> list[dict]:
    """Workloads as Kueue makes them of ``jobset``: every tenth admitted (100 CPUs each), the
    rest pending."""
    pod_sets = [
        {
            "name": rj["name"],
            "count": rj.get("replicas", 1) * rj["template"]["spec"].get("parallelism", 1),
            "template": rj["template"]["spec"]["template"],
        }
        for rj in jobset["spec"]["replicatedJobs"]
    ]
    out = []
    for index in range(count):
        created = f"2026-12-01T{index // 3600:02d}:{index // 60 % 60:02d}:{index % 60:02d}Z"
        workload = {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "Workload",
            "metadata": {
                "name": f"jobset-w{index:05d}",
                "namespace": namespace,
                "creationTimestamp": created,
            },
            "spec": {"queueName": queue, "priority": priority, "podSets": pod_sets},
            "status": {
                "conditions": [
                    {"type": "QuotaReserved", "status": "False", "reason": "WaitingForQuota"}
                ]
            },
        }
        if index % 10 == 0:  # admitted, holding more CPU than the cohort has: none fits
            workload["status"] = {
                "conditions": [{"type": "QuotaReserved", "status": "True"}],
                "admission": {
                    "clusterQueue": queue,
                    "podSetAssignments": [
                        {
                            "name": pod_sets[0]["name"],
                            "flavors": {"cpu": "default"},
                            "resourceUsage": {"cpu": "100"},
                        }
                    ],
                },
            }
        out.append(workload)
    return out


def paged(kind: str, items: list[dict], query: dict) -> Answer:
    """A list page as the API server serves it: ``limit`` items from the ``continue`` offset."""
    limit = int(query.get("limit") or len(items) or 1)
    start = int(query.get("continue") or 0)
    page = items[start : start + limit]
    body = json.loads(listed(kind, page))
    if start + limit < len(items):
        body["metadata"]["continue"] = str(start + limit)
    return Answer(200, json.dumps(body).encode())


def serve(kueue: list[dict], pending: list[dict]):
    by_plural = {
        "clusterqueues": [o for o in kueue if o["kind"] == "ClusterQueue"],
        "resourceflavors": [o for o in kueue if o["kind"] == "ResourceFlavor"],
        "localqueues": [o for o in kueue if o["kind"] == "LocalQueue"],
        "workloadpriorityclasses": [o for o in kueue if o["kind"] == "WorkloadPriorityClass"],
        "cohorts": [],
        "workloads": pending,
        "limitranges": [],
    }

    def behaviour(method: str, path: str, query: dict) -> Answer:
        plural = path.rstrip("/").rsplit("/", 1)[-1]
        if path.startswith("/apis/kueue.x-k8s.io/v1beta2/") and plural in by_plural:
            return paged(KINDS[plural], by_plural[plural], query)
        if path == "/api/v1/limitranges":
            return paged(KINDS[plural], by_plural[plural], query)
        return not_found(path)

    return behaviour


def in_process(config: Path, runs: int) -> float:
    """The median seconds of what ``--live`` adds once the client is imported and connected:
    listing Kueue's objects and every Workload, and the verdict."""
    import os
    import statistics
    import time

    from compiler.admit.report import verdicts
    from compiler.cluster.admit import kueue_objects
    from compiler.cluster.client import connect
    from compiler.inputs import compile_paths

    os.environ["KUBECONFIG"] = str(config)
    _, units, _ = compile_paths([EXAMPLE], policies=(POLICIES,))
    job = next(o for o in units[0].objects if o["kind"] == "JobSet")
    kube = connect()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        objects, live = kueue_objects(kube)
        verdicts([job], objects, live)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pure_verdict(kueue: list[dict], pending: list[dict], jobset: dict, runs: int) -> float:
    """The median seconds of decoding the Workloads' JSON and the verdict, no HTTP."""
    import statistics
    import time

    from compiler.admit.report import verdicts

    body = json.dumps({"items": pending})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        verdicts([jobset], kueue, json.loads(body)["items"])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    kueue = _compiled("queues", "-p", POLICIES)
    objects = _compiled("-p", POLICIES, EXAMPLE)
    jobset = next(o for o in objects if o["kind"] == "JobSet")
    queue = jobset["metadata"]["labels"]["kueue.x-k8s.io/queue-name"]
    namespace = jobset["metadata"]["namespace"]
    label = jobset["metadata"]["labels"].get("kueue.x-k8s.io/priority-class")
    values = {
        o["metadata"]["name"]: o["value"] for o in kueue if o["kind"] == "WorkloadPriorityClass"
    }
    pending = workloads(args.workloads, jobset, queue, namespace, values.get(label, 0))
    with tempfile.TemporaryDirectory() as scratch:
        pki = make_pki(Path(scratch) / "pki")
        with Serving(serve(kueue, pending), pki, "https") as server:
            config = kubeconfig(Path(scratch) / "kubeconfig", server.url, pki)
            env = dict(cold_env(), KUBECONFIG=str(config))
            argv_ = [str(COMPILE), "admit", "--live", "-p", POLICIES, EXAMPLE]
            check = subprocess.run(argv_, cwd=REPO, env=env, capture_output=True, text=True)
            run = measure(argv_, args.runs, env)
            reading = in_process(config, args.runs)
    line = check.stdout.splitlines()[0] if check.stdout else check.stderr.strip()
    rows = [
        (
            f"compile admit --live, {args.workloads:,} pending Workloads",
            timing(run),
            f"< {TARGET_SECONDS:g} s",
            run.wall < TARGET_SECONDS,
        ),
        (
            "of which: reading Kueue's objects and Workloads and the verdict (in process)",
            f"{reading * 1000:,.0f} ms",
            "",
            None,
        ),
        (
            "of which: decoding the Workloads and the verdict (pure, no HTTP)",
            f"{pure_verdict(kueue, pending, jobset, args.runs) * 1000:,.0f} ms",
            "",
            None,
        ),
    ]
    report(rows, [f"exit {check.returncode}: {line[:160]}"], args.json)


if __name__ == "__main__":
    main()
