"""The testbed agent runs a pod's containers as processes and reports what the kubelet reports.

No API server here: a recording stand-in answers the agent's few calls. The processes run in
mount, UTS and PID namespaces of their own (root only, as the testbed)."""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from testbed.agent.pods import PodRunner, RuntimeConfig  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")


class FakeKube:
    def __init__(self, objects=None):
        self.objects = objects or {}
        self.patches: list[dict] = []

    def get_or_none(self, path):
        return self.objects.get(path)

    def merge_patch(self, path, body):
        assert path.endswith("/status")
        self.patches.append(body["status"])

    def request(self, *args, **kw):
        raise AssertionError(f"unexpected call {args}")


def make_pod(containers, restart="Never", volumes=None, **spec):
    return {
        "metadata": {
            "name": "p-0",
            "namespace": "ns",
            "uid": "u-1",
            "annotations": {"jobset.sigs.k8s.io/job-global-index": "5"},
        },
        "spec": {
            "restartPolicy": restart,
            "containers": containers,
            "volumes": volumes or [],
            **spec,
        },
    }


def run_pod(tmp_path, pod, kube=None, timeout=30):
    kube = kube or FakeKube()
    cfg = RuntimeConfig(
        node_name="agent-0",
        host_ip="127.0.0.1",
        venv=None,
        image_root=tmp_path,
        hosts_file=tmp_path / "hosts",
        resolv_file=tmp_path / "resolv.conf",
        max_pod_seconds=timeout,
        restart_delay=0.1,
    )
    cfg.hosts_file.write_text("127.0.0.1 localhost\n127.64.240.9 peer.sub.ns.svc.cluster.local\n")
    cfg.resolv_file.write_text("nameserver 127.0.0.1\n")
    runner = PodRunner(kube, pod, "127.64.240.3", tmp_path / "pod", cfg)
    runner.start()
    assert runner.finished.wait(timeout + 10), "pod did not finish"
    return runner, kube


def start_running(tmp_path, pod, ip):
    """Start ``pod`` (no image root, 60 s at most) and wait until its container ``c`` runs."""
    kube = FakeKube()
    cfg = RuntimeConfig(
        node_name="agent-0",
        host_ip="127.0.0.1",
        venv=None,
        image_root=None,
        hosts_file=tmp_path / "hosts",
        resolv_file=tmp_path / "resolv.conf",
        max_pod_seconds=60,
    )
    cfg.hosts_file.write_text("127.0.0.1 localhost\n")
    cfg.resolv_file.write_text("nameserver 127.0.0.1\n")
    runner = PodRunner(kube, pod, ip, tmp_path / "pod", cfg)
    runner.start()
    deadline = time.monotonic() + 20
    while not runner.container_running("c"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return runner, kube


def log_of(runner, container="c", n=0):
    return (runner.dir / "logs" / f"{container}-{n}.log").read_text()


def test_a_pod_runs_with_the_kubelets_environment_and_succeeds(tmp_path):
    pod = make_pod(
        [
            {
                "name": "c",
                "image": "registry.example.com/img:1",
                "command": ["/bin/sh", "-c"],
                "args": [
                    'echo "rank=$RANK ip=$POD_IP greet=$(GREET) host=$(hostname)";'
                    "echo 'esc=$$(GREET)';"
                    "getent hosts peer.sub.ns.svc.cluster.local; pwd"
                ],
                "env": [
                    {
                        "name": "RANK",
                        "valueFrom": {
                            "fieldRef": {
                                "fieldPath": "metadata.annotations['jobset.sigs.k8s.io/job-global-index']"
                            }
                        },
                    },
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "GREET", "value": "hi-$(RANK)"},
                ],
            }
        ],
        hostname="p-host",
    )
    (tmp_path / "img").mkdir()
    runner, kube = run_pod(tmp_path, pod)
    out = log_of(runner)
    assert "rank=5 ip=127.64.240.3 greet=hi-5 host=p-host\n" in out
    assert "esc=$(GREET)\n" in out  # $$ escaped the reference
    assert "127.64.240.9" in out  # the private hosts file
    assert out.strip().endswith(str(tmp_path / "img"))  # the image's stand-in directory
    last = kube.patches[-1]
    assert last["phase"] == "Succeeded"
    assert last["podIP"] == "127.64.240.3"
    state = last["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 0 and state["reason"] == "Completed"
    assert "Running" in [p["phase"] for p in kube.patches]


def test_on_failure_restarts_until_success_and_counts_restarts(tmp_path):
    marker = tmp_path / "tries"
    pod = make_pod(
        [
            {
                "name": "c",
                "command": [
                    "/bin/sh",
                    "-c",
                    f'echo x >> {marker}; [ "$(wc -l < {marker})" -ge 3 ] || exit 7',
                ],
            }
        ],
        restart="OnFailure",
    )
    _runner, kube = run_pod(tmp_path, pod)
    last = kube.patches[-1]
    assert last["phase"] == "Succeeded"
    status = last["containerStatuses"][0]
    assert status["restartCount"] == 2
    assert status["lastState"]["terminated"]["exitCode"] == 7


def test_never_fails_with_the_exit_code(tmp_path):
    pod = make_pod([{"name": "c", "command": ["/bin/sh", "-c", "echo bye; exit 3"]}])
    runner, kube = run_pod(tmp_path, pod)
    last = kube.patches[-1]
    assert last["phase"] == "Failed"
    assert last["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    assert last["containerStatuses"][0]["restartCount"] == 0
    assert log_of(runner) == "bye\n"


def test_secret_and_empty_dir_volumes_are_mounted_and_cleaned_up(tmp_path):
    secret = {"data": {"token": base64.b64encode(b"s3cr3t").decode()}}
    kube = FakeKube({"/api/v1/namespaces/ns/secrets/creds": secret})
    target = tmp_path / "mnt" / "creds"
    scratch = tmp_path / "mnt" / "scratch"
    pod = make_pod(
        [
            {
                "name": "c",
                "command": [
                    "/bin/sh",
                    "-c",
                    f"cat {target}/token; echo; touch {scratch}/f && ls {scratch}; "
                    f"touch {target}/x 2>/dev/null && echo writable || echo read-only",
                ],
                "volumeMounts": [
                    {"name": "creds", "mountPath": str(target), "readOnly": True},
                    {"name": "scratch", "mountPath": str(scratch)},
                ],
            }
        ],
        volumes=[
            {"name": "creds", "secret": {"secretName": "creds"}},
            {"name": "scratch", "emptyDir": {}},
        ],
    )
    runner, kube = run_pod(tmp_path, pod, kube)
    assert log_of(runner).split() == ["s3cr3t", "f", "read-only"]
    assert kube.patches[-1]["phase"] == "Succeeded"
    assert (tmp_path / "mnt" / "creds").is_dir()  # made for the bind, kept for other pods
    runner.cfg.mount_points.remove()  # when the agent stops
    assert not (tmp_path / "mnt").exists()


def test_a_missing_secret_is_a_config_error_not_a_crash(tmp_path):
    pod = make_pod(
        [
            {
                "name": "c",
                "command": ["true"],
                "env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}],
            }
        ]
    )
    _runner, kube = run_pod(tmp_path, pod)
    last = kube.patches[-1]
    assert last["phase"] == "Failed"
    assert last["containerStatuses"][0]["state"]["terminated"]["reason"] == (
        "CreateContainerConfigError"
    )


def test_kill_ends_every_process_of_the_pod(tmp_path):
    pid_file = tmp_path / "child.pid"
    pod = make_pod(
        [
            {
                "name": "c",
                "command": ["/bin/sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"],
            }
        ]
    )
    runner, _ = start_running(tmp_path, pod, "127.64.240.4")
    deadline = time.monotonic() + 20
    while not (runner.dir / "tmp").exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    sleepers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _has_env(p, runner.dir)]
    assert sleepers, "the pod's processes were not found"
    runner.kill()
    assert runner.finished.wait(20)
    time.sleep(0.2)
    assert not [p for p in sleepers if p.exists() and _has_env(p, runner.dir)]


def _has_env(proc: Path, marker: Path) -> bool:
    try:
        return f"TMPDIR={marker}".encode() in (proc / "environ").read_bytes()
    except OSError:
        return False


def test_a_readiness_probe_decides_when_the_pod_is_ready(tmp_path):
    marker = tmp_path / "warm"
    pod = make_pod(
        [
            {
                "name": "c",
                "command": ["/bin/sh", "-c", f"sleep 1; touch {marker}; sleep 2"],
                "readinessProbe": {
                    "exec": {"command": ["test", "-f", str(marker)]},
                    "periodSeconds": 0.2,
                },
            }
        ]
    )
    _runner, kube = run_pod(tmp_path, pod)
    running = [p for p in kube.patches if p["phase"] == "Running"]
    ready = [c["status"] for p in running for c in p["conditions"] if c["type"] == "Ready"]
    assert ready[0] == "False" and "True" in ready, ready
    assert kube.patches[-1]["phase"] == "Succeeded"


def test_a_slow_image_pull_keeps_the_pod_pending_before_its_containers_start(tmp_path):
    """testbed.manifest-compiler/pull-seconds: {container: seconds} delays the start, as a
    slow image pull does (issue 21 item 2's proof starts xgboost's master late with it)."""
    pod = make_pod([{"name": "c", "command": ["/bin/sh", "-c", "echo started"]}])
    pod["metadata"]["annotations"]["testbed.manifest-compiler/pull-seconds"] = '{"c": 1.5}'
    t0 = time.monotonic()
    runner, kube = run_pod(tmp_path, pod)
    assert time.monotonic() - t0 >= 1.5
    assert kube.patches[0]["phase"] == "Pending"
    assert kube.patches[0]["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ContainerCreating"}
    }
    assert log_of(runner) == "started\n"
    other = make_pod([{"name": "c", "command": ["/bin/sh", "-c", "true"]}])
    other["metadata"]["annotations"]["testbed.manifest-compiler/pull-seconds"] = '{"x": 30}'
    (tmp_path / "other").mkdir()
    t0 = time.monotonic()
    run_pod(tmp_path / "other", other)
    assert time.monotonic() - t0 < 10  # another container's pull: no delay here


def test_a_deleted_pod_ends_failed_and_keeps_the_eviction_condition(tmp_path):
    """Issue 22: the eviction API puts DisruptionTarget on the pod, then deletes it. As the
    kubelet does, the agent ends the pod Failed (the Job controller judges only terminal pods
    when a podFailurePolicy is set) and keeps the condition it did not write itself."""
    pod = make_pod([{"name": "c", "command": ["/bin/sh", "-c", "sleep 300"]}])
    runner, kube = start_running(tmp_path, pod, "127.64.240.5")
    evicted = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    }
    runner.keep_conditions(
        {"status": {"conditions": [{"type": "Ready", "status": "True"}, evicted]}}
    )
    runner.end_deleted()
    last = kube.patches[-1]
    assert last["phase"] == "Failed"
    terminated = last["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 137  # SIGKILL
    assert evicted in last["conditions"]
    assert [c["type"] for c in last["conditions"]].count("Ready") == 1
