"""The testbed control plane itself: API server, CRDs, kwok nodes, dry-run path."""

from __future__ import annotations

import json
import subprocess
import textwrap
import threading
import time
from datetime import datetime

from testbed import controlplane as cpmod


def test_server_reachable(control_plane):
    assert control_plane.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    version = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    want = cpmod.read_versions()["KUBERNETES_VERSION"]
    assert version["serverVersion"]["gitVersion"] == want
    assert version["clientVersion"]["gitVersion"] == want
    assert control_plane.server.startswith("https://127.0.0.1:")


def test_crds_installed_and_established(control_plane):
    files = sorted(control_plane.crd_dir.glob("*.yaml"))
    assert files, control_plane.crd_dir
    crds = {c["metadata"]["name"]: c for c in control_plane.kubectl_json("get", "crd")["items"]}
    for f in files:
        # upstream file names are <group>_<plural>.yaml; the CRD is <plural>.<group>
        group, plural = f.stem.split("_", 1)
        name = f"{plural}.{group}"
        assert name in crds, f"{name} (from {f.name}) not installed"
        conds = {c["type"]: c["status"] for c in crds[name]["status"]["conditions"]}
        assert conds.get("Established") == "True", (name, conds)
    assert "jobsets.jobset.x-k8s.io" in crds


def test_kwok_nodes_ready(control_plane):
    nodes = control_plane.kubectl_json("get", "nodes")["items"]
    names = sorted(n["metadata"]["name"] for n in nodes)
    assert names == sorted(control_plane.node_names())
    for n in nodes:
        conds = {c["type"]: c["status"] for c in n["status"]["conditions"]}
        assert conds["Ready"] == "True", (n["metadata"]["name"], conds)
        assert n["status"]["allocatable"]["nvidia.com/gpu"] == "8"
        assert n["metadata"]["annotations"][cpmod.KWOK_NODE_ANNOTATION] == "fake"
        assert not n["spec"].get("taints"), n["spec"]
        # kwok's server is each node's kubelet endpoint (pod logs go there)
        assert (
            n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == control_plane.ports["kwok"]
        )
        assert {"type": "InternalIP", "address": "127.0.0.1"} in n["status"]["addresses"]
        assert {"type": "Hostname", "address": n["metadata"]["name"]} in n["status"]["addresses"]


def test_server_side_dry_run_strict(control_plane, tmp_path):
    """The path Tier 1 tests use: kubectl apply --server-side --dry-run=server --validate=strict."""
    good = tmp_path / "good.yaml"
    good.write_text(
        textwrap.dedent("""\
        apiVersion: jobset.x-k8s.io/v1alpha2
        kind: JobSet
        metadata:
          name: dry
          namespace: default
        spec:
          replicatedJobs:
          - name: w
            replicas: 2
            template:
              spec:
                template:
                  spec:
                    restartPolicy: Never
                    containers:
                    - name: c
                      image: busybox
                      command: ["echo"]
        """)
    )
    proc = control_plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "--validate=strict", "-f", str(good)
    )
    assert "serverside-applied (server dry run)" in proc.stdout
    # nothing was stored
    assert (
        control_plane.kubectl("get", "jobset", "dry", "-n", "default", check=False).returncode != 0
    )

    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("replicas: 2", "replicas: 2\n    replicaz: 3"))
    proc = control_plane.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        str(bad),
        check=False,
    )
    assert proc.returncode != 0
    assert "replicaz" in proc.stderr, proc.stderr


def test_restart_apiserver(control_plane, namespace):
    control_plane.kubectl("create", "configmap", "before", "-n", namespace, "--from-literal=a=1")
    control_plane.restart_apiserver()
    assert control_plane.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    cm = control_plane.kubectl_json("get", "configmap", "before", "-n", namespace)
    assert cm["data"] == {"a": "1"}
    # controllers reconnect: a Job still runs to completion after the restart. client-go backs off
    # before re-watching, so this may take a while on a loaded machine; a failure says where it stuck.
    control_plane.kubectl(
        "create", "job", "after", "-n", namespace, "--image=busybox", "--", "echo"
    )
    done = control_plane.kubectl(
        "wait",
        "--for=condition=Complete",
        "job/after",
        "-n",
        namespace,
        "--timeout=180s",
        timeout=210,
        check=False,
    )
    assert done.returncode == 0, _why_stuck(control_plane, namespace)


def _why_stuck(control_plane, namespace: str) -> str:
    """What the job, its pods and the controllers say, for a failure that is otherwise mute."""
    parts = []
    for args in (
        ("get", "jobs,pods", "-n", namespace, "-o", "wide"),
        ("get", "events", "-n", namespace),
        ("get", "nodes"),
    ):
        parts.append(control_plane.kubectl(*args, check=False).stdout)
    for component in ("kube-controller-manager", "kube-scheduler", "kwok"):
        log = control_plane.workdir / "logs" / f"{component}.log"
        if log.exists():
            parts.append(
                f"--- {component} (last lines)\n"
                + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            )
    return "\n".join(parts)


def test_kwok_pod_outcomes(control_plane, namespace):
    """testbed/kwok-stages.yaml: Job pods succeed after 1-2 s by default; the
    outcome annotation or KWOK_OUTCOME env makes them fail or keep running;
    run-for sets how long they run."""
    cp = control_plane

    def job(name, annotations="{}", env="[]", backoff=0):
        return textwrap.dedent(f"""\
            apiVersion: batch/v1
            kind: Job
            metadata: {{name: {name}}}
            spec:
              backoffLimit: {backoff}
              template:
                metadata:
                  annotations: {annotations}
                spec:
                  restartPolicy: Never
                  containers:
                  - name: c
                    image: busybox
                    env: {env}
            """)

    docs = [
        job("ok"),
        job(
            "ann-fail",
            '{"testbed.manifest-compiler/outcome": fail, "testbed.manifest-compiler/exit-code": "3"}',
        ),
        job("env-fail", env="[{name: KWOK_OUTCOME, value: fail}]"),
        job("runs", '{"testbed.manifest-compiler/outcome": run}'),
        job("slow", '{"testbed.manifest-compiler/run-for": 6s}'),
    ]
    cp.kubectl("apply", "-n", namespace, "-f", "-", input="---\n".join(docs))

    def pod(job_name):
        items = cp.kubectl_json("get", "pods", "-n", namespace, "-l", f"job-name={job_name}")[
            "items"
        ]
        return items[0] if items else {}

    def terminated(p):
        statuses = p.get("status", {}).get("containerStatuses") or [{}]
        return statuses[0].get("state", {}).get("terminated") or {}

    deadline = time.monotonic() + 60
    while True:
        pods = {j: pod(j) for j in ("ok", "ann-fail", "env-fail", "runs", "slow")}
        phases = {j: p.get("status", {}).get("phase") for j, p in pods.items()}
        if phases["ok"] == "Succeeded" and phases["ann-fail"] == phases["env-fail"] == "Failed":
            break
        assert time.monotonic() < deadline, phases
        time.sleep(0.5)
    assert terminated(pods["ok"])["exitCode"] == 0
    assert terminated(pods["ann-fail"])["exitCode"] == 3
    assert terminated(pods["env-fail"])["exitCode"] == 1
    assert phases["runs"] == "Running"
    assert phases["slow"] == "Running"  # the others ended, "slow" runs for 6 s
    cp.kubectl(
        "wait", "--for=condition=Complete", "job/slow", "-n", namespace, "--timeout=60s", timeout=90
    )
    assert terminated(pod("slow"))["exitCode"] == 0
    slow = cp.kubectl_json("get", "job", "slow", "-n", namespace)["status"]
    ran = datetime.fromisoformat(slow["completionTime"]) - datetime.fromisoformat(slow["startTime"])
    assert ran.total_seconds() >= 5, slow
    assert pod("runs")["status"]["phase"] == "Running"


def test_kwok_serves_pod_logs(control_plane, namespace):
    """kubectl logs goes API server -> the node's kubelet endpoint (kwok's TLS server),
    which serves the testbed's log file for every container; -f keeps the stream open."""
    cp = control_plane
    cp.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "talker", "annotations": {cpmod.OUTCOME_ANNOTATION: "run"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox"}],
                },
            }
        ),
    )
    cp.kubectl(
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod/talker",
        "-n",
        namespace,
        "--timeout=60s",
        timeout=90,
    )
    logs = cp.kubectl("logs", "talker", "-n", namespace, "-c", "main")
    assert logs.stdout.splitlines() == list(cpmod.POD_LOG_LINES)
    assert (
        cp.kubectl("logs", "talker", "-n", namespace, "--tail=1").stdout
        == cpmod.POD_LOG_LINES[-1] + "\n"
    )
    follow = subprocess.Popen(
        [
            str(cp.kubectl_path),
            "--kubeconfig",
            str(cp.kubeconfig),
            "logs",
            "-f",
            "talker",
            "-n",
            namespace,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, follow.kill)  # a stream that never comes fails, not hangs
    watchdog.start()
    try:
        first = [follow.stdout.readline().rstrip("\n") for _ in cpmod.POD_LOG_LINES]
        assert first == list(cpmod.POD_LOG_LINES)
        assert follow.poll() is None  # still following a running container
    finally:
        watchdog.cancel()
        follow.kill()
        follow.communicate(timeout=30)
