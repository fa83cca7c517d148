"""`compile admit --live` against the testbed's real Kueue (v0.19.2): the prediction made before a
workload is submitted is what Kueue does within 10 s of its submission.

36 generated scenarios (seeded), each its own cohort of one or two projects (queues from
generated policies through `compile queues`: GPUs as one number or per product, a borrowing
limit or none, StrictFIFO or BestEffortFIFO), some workloads submitted first (admitted or left
pending), then one new workload (a batch Job, a JobSet or a RayJob with its submitter pod, GPUs
of a product the quota lists, of one it does not, or of none). The scenarios share one plane and
run side by side: their cohorts are disjoint, so no scenario's quota reaches another's. Every
prediction that is not `unknown` must match Kueue's outcome (admitted; or pending, for quota or
for a flavor); the count of unknowns is printed.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

from cluster_support import compile_ as run

OUTCOME = "testbed.manifest-compiler/outcome"
RUN_FOR = "testbed.manifest-compiler/run-for"
PRODUCTS = ("GPU-ALPHA", "GPU-BETA", "GPU-GAMMA")
SCENARIOS = 36
OBSERVE_SECONDS = 10


def _quota(rng: random.Random, per_product: bool):
    if per_product:
        listed = rng.sample(PRODUCTS[:2], rng.choice((1, 2)))
        return {product: rng.choice((4, 8)) for product in sorted(listed)}
    return rng.choice((4, 8, 12))


def _policy(project: str, gpus, cohort: str | None, borrowing, queueing: str) -> str:
    lines = [
        "apiVersion: manifest-compiler/v1",
        "kind: Policy",
        f"metadata: {{name: {project}, project: {project}}}",
        "spec:",
        "  quota:",
        "    cpus: 64",
        "    memoryGB: 256",
        f"    gpus: {json.dumps(gpus)}",
        f"    queueing: {queueing}",
    ]
    if cohort:
        lines.append(f"    cohort: {cohort}")
        if borrowing is not None:
            lines.append(f"    borrowingLimit: {{gpus: {json.dumps(borrowing)}}}")
    lines.append("  priorities: {low: 10, high: 1000}")
    return "\n".join(lines) + "\n"


def _gpu(count: int, product: str | None) -> str:
    if not count:
        return ""
    product_line = f", product: {product}" if product else ""
    return f"accelerators: {{gpu: {{count: {count}, type: gpu{product_line}}}}}"


def _manifest(
    name: str, project: str, operator: str, workers: int, gpus: int, product, priority=None
) -> str:
    accelerators = _gpu(gpus, product)
    resources = "{cpus: 1, memory: 2" + (", " + accelerators if accelerators else "") + "}"
    lines = [
        "kind: AIchorManifest",
        "apiVersion: 0.2.3",
        f"name: {name}",
        f"project: {project}",
        "spec:",
        f"  operator: {operator}",
        "  image: registry.example.com/train:1.0",
        '  command: "python -u train.py"',
        *([f"  priority: {priority}"] if priority else []),
        "  annotations:",
        f"    {OUTCOME}: run",
        f"    {RUN_FOR}: 3600s",
        "  types:",
    ]
    if operator == "kuberay":
        lines += [
            "    Head:",
            "      resources: {cpus: 1, memory: 2}",
            "    Workers:",
            "      - name: workers",
            f"        count: {workers}",
            f"        resources: {resources}",
        ]
    else:
        lines += ["    worker:", f"      count: {workers}", f"      resources: {resources}"]
    return "\n".join(lines) + "\n"


class Scenario:
    def __init__(self, index: int, rng: random.Random, token: str):
        self.a, self.b = f"adm{token}-{index}a", f"adm{token}-{index}b"
        self.cohort = f"adm{token}-{index}" if rng.random() < 0.7 else None
        per_product = rng.random() < 0.5
        queueing = rng.choice(("StrictFIFO", "BestEffortFIFO"))
        quota_a = _quota(rng, per_product)
        borrowing = None
        if self.cohort and rng.random() < 0.5:
            borrowing = (
                {p: rng.choice((0, 2, 4)) for p in quota_a} if per_product else rng.choice((0, 4))
            )
        self.policies = {self.a: _policy(self.a, quota_a, self.cohort, borrowing, queueing)}
        # a queue of its own where a high-priority job may preempt low-priority ones
        self.priorities = (
            ("low", "high") if not self.cohort and rng.random() < 0.6 else (None, None)
        )
        if self.cohort:
            quota_b = _quota(rng, per_product)
            self.policies[self.b] = _policy(self.b, quota_b, self.cohort, None, queueing)
        products = list(quota_a) if per_product else [None]
        self.existing = []
        for n in range(rng.choice((2, 3) if self.priorities[0] else (0, 1, 2, 3))):
            project = self.b if self.cohort and rng.random() < 0.4 else self.a
            product = rng.choice(products) if per_product else None
            if project == self.b and per_product:
                product = None  # any flavor of b's queue
            workers = rng.choice((1, 2))
            self.existing.append(
                (
                    f"e{n}",
                    project,
                    "batchjob",
                    workers,
                    rng.choice((2, 4)),
                    product,
                    self.priorities[0],
                )
            )
        operator = rng.choice(("batchjob", "jobset", "kuberay"))
        choice = rng.random()
        if per_product and choice < 0.25:
            product = "GPU-GAMMA"  # a product no quota lists: no flavor
        elif per_product and choice < 0.7:
            product = rng.choice(products)
        else:
            product = None
        self.new = (
            "w",
            self.a,
            operator,
            rng.choice((1, 2, 3)),
            rng.choice((2, 4)),
            product,
            self.priorities[1],
        )


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def _apply(plane, text: str) -> None:
    applied = plane.kubectl(
        "apply", "--server-side", "--field-manager=manifest-compiler", "-f", "-", input=text
    )
    assert applied.returncode == 0, applied.stderr


def _workloads(plane, namespaces: list[str]) -> dict[tuple[str, str], dict]:
    """(namespace, owner name) -> Workload, over ``namespaces``."""
    listed = plane.kubectl_json("get", "workloads.kueue.x-k8s.io", "-A")
    out = {}
    for workload in listed["items"]:
        namespace = workload["metadata"]["namespace"]
        owners = workload["metadata"].get("ownerReferences") or [{}]
        if namespace in namespaces:
            out[(namespace, owners[0].get("name"))] = workload
    return out


def _observed(workload: dict | None) -> tuple[str, str]:
    """(admitted | quota | flavor | none, Kueue's reason)."""
    if workload is None:
        return "none", ""
    for condition in (workload.get("status") or {}).get("conditions") or []:
        if condition["type"] == "QuotaReserved":
            if condition["status"] == "True":
                return "admitted", ""
            message = condition.get("message", "")
            if condition.get("reason") == "NoMatchingFlavor" or (
                # Kueue v0.19.2 says "Pending" and lists each flavor's mismatch
                ("doesn't match" in message or "untolerated taint" in message)
                and "insufficient" not in message
            ):
                return "flavor", message
            return "quota", f"{condition.get('reason')}: {condition.get('message', '')}"
    return "quota", "no QuotaReserved condition yet"


def _settle(plane, namespaces: list[str], expected: int) -> None:
    """Until every Workload exists and which hold quota stays the same for 3 s (at most 60 s)."""
    deadline, last, stable_since = time.monotonic() + 60, None, time.monotonic()
    while time.monotonic() < deadline:
        found = _workloads(plane, namespaces)
        state = sorted((key, _observed(w)[0]) for key, w in found.items())
        if state != last or len(found) < expected:
            last, stable_since = state, time.monotonic()
        elif time.monotonic() - stable_since >= 3:
            return
        time.sleep(0.5)


def test_admit_predictions_match_kueue(operator_plane, tmp_path):
    plane = operator_plane
    token = uuid.uuid4().hex[:4]
    rng = random.Random(27)
    scenarios = [Scenario(i, rng, token) for i in range(SCENARIOS)]
    policies = tmp_path / "policies"
    policies.mkdir()
    for scenario in scenarios:
        for project, text in scenario.policies.items():
            _write(policies, f"{project}.yaml", text)
    namespaces = sorted(p for s in scenarios for p in s.policies)
    _apply(
        plane,
        "".join(
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {n}}}\n---\n" for n in namespaces
        ),
    )
    queues = run(plane, "queues", "-p", str(policies))
    assert queues.returncode == 0, queues.stderr
    cluster_queues = [
        o["metadata"]["name"]
        for o in json.loads(run(plane, "queues", "-p", str(policies), "-o", "json").stdout)["items"]
        if o["kind"] == "ClusterQueue"
    ]
    try:
        _apply(plane, queues.stdout)
        _run_scenarios(plane, scenarios, policies, namespaces, tmp_path, len(cluster_queues))
    finally:
        plane.kubectl("delete", "namespace", *namespaces, "--wait=false", check=False)
        for name in cluster_queues:
            plane.kubectl("delete", "clusterqueue", name, "--wait=false", check=False)


def _active_queues(plane, prefix_names: set[str]) -> int:
    listed = plane.kubectl_json("get", "clusterqueues")
    return sum(
        1
        for q in listed["items"]
        if q["metadata"]["name"] in prefix_names
        and any(
            c["type"] == "Active" and c["status"] == "True"
            for c in q.get("status", {}).get("conditions", [])
        )
    )


def _run_scenarios(plane, scenarios, policies, namespaces, tmp_path, queue_count) -> None:
    names = {p for s in scenarios for p in s.policies}
    deadline = time.monotonic() + 60
    while _active_queues(plane, names) < queue_count:
        assert time.monotonic() < deadline, "ClusterQueues not Active after 60 s"
        time.sleep(0.5)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    existing = []
    for i, scenario in enumerate(scenarios):
        for workload in scenario.existing:
            existing.append(_write(manifests, f"{i}-{workload[0]}.yaml", _manifest(*workload)))
    if existing:
        emitted = run(plane, "-p", str(policies), *map(str, existing))
        assert emitted.returncode == 0, emitted.stderr
        _apply(plane, emitted.stdout)
    _settle(plane, namespaces, len(existing))
    new_files = []
    for i, scenario in enumerate(scenarios):
        new_files.append(_write(manifests, f"{i}-new.yaml", _manifest(*scenario.new)))
    predicted = run(
        plane, "admit", "--live", "-o", "json", "-p", str(policies), *map(str, new_files)
    )
    assert predicted.returncode in (0, 1, 4), predicted.stderr
    predictions = json.loads(predicted.stdout)
    assert len(predictions) == len(scenarios)
    emitted = run(plane, "-p", str(policies), *map(str, new_files))
    assert emitted.returncode == 0, emitted.stderr
    _apply(plane, emitted.stdout)
    submitted = time.monotonic()
    outcomes: dict[int, tuple[str, str]] = {}
    while time.monotonic() - submitted < OBSERVE_SECONDS:
        found = _workloads(plane, namespaces)
        for i, prediction in enumerate(predictions):
            outcomes[i] = _observed(found.get((prediction["namespace"], prediction["name"])))
        if all(o[0] == "admitted" for o in outcomes.values()):
            break
        time.sleep(0.5)
    unknown, wrong = 0, []
    for i, prediction in enumerate(predictions):
        seen, why = outcomes[i]
        if prediction["outcome"] is None:
            unknown += 1
            print(f"scenario {i}: unknown: {prediction['reason']}; Kueue: {seen} {why}")
            continue
        if prediction["outcome"] != seen:
            wrong.append(
                f"scenario {i}: predicted {prediction['verdict']} ({prediction['reason']}), "
                f"Kueue: {seen} {why}\n{json.dumps(scenarios[i].policies)}\n"
                f"existing {scenarios[i].existing}\nnew {scenarios[i].new}"
            )
    print(f"\nadmit parity: {len(predictions)} scenarios, {unknown} unknown, {len(wrong)} wrong")
    print(
        "verdicts:",
        json.dumps(
            {
                v: sum(1 for p in predictions if p["verdict"] == v)
                for v in sorted({p["verdict"] for p in predictions})
            }
        ),
    )
    assert not wrong, "\n\n".join(wrong)
    assert unknown < len(predictions) // 3, f"{unknown} unknown of {len(predictions)}"
