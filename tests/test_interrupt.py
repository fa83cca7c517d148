"""Ctrl-C stops every cluster command at once, wherever it waits (issue 19: a watch under load was
still running 30 s after SIGINT).

A loopback API server answers what the test lets it answer and then holds the connection open
without a byte; the command is interrupted while it waits there: looking the job up, listing it,
on a silent watch, on a silent log stream. Each must end with exit 130, say at most "interrupted"
and leave no traceback; the watch also says how to reattach.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from terminal import from_a_terminal

REPO = Path(__file__).resolve().parents[1]
HANG_GUARD = 60  # seconds: a bound on a broken test, not a timing being measured

JOBSET = {
    "apiVersion": "jobset.x-k8s.io/v1alpha2",
    "kind": "JobSet",
    "metadata": {
        "name": "train",
        "namespace": "default",
        "uid": "u-1",
        "resourceVersion": "7",
        "creationTimestamp": "2026-01-01T00:00:00Z",
    },
    "spec": {"replicatedJobs": [{"name": "worker", "replicas": 1}]},
    "status": {"replicatedJobsStatus": [{"name": "worker", "active": 1, "ready": 1}]},
}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "train-worker-0-0-abcde",
        "namespace": "default",
        "labels": {
            "jobset.sigs.k8s.io/jobset-name": "train",
            "jobset.sigs.k8s.io/replicatedjob-name": "worker",
            "jobset.sigs.k8s.io/job-index": "0",
            "batch.kubernetes.io/job-completion-index": "0",
        },
    },
    "spec": {"containers": [{"name": "main"}]},
    "status": {"phase": "Running", "containerStatuses": [{"name": "main", "ready": True}]},
}


class SilentAfter(BaseHTTPRequestHandler):
    """Answers requests until the first one whose path contains ``server.hold``, which it accepts
    and then never answers (headers included)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        if server.hold in self.path:  # type: ignore[attr-defined]
            server.held.set()  # type: ignore[attr-defined]
            server.release.wait(HANG_GUARD)  # type: ignore[attr-defined]
            return
        self.answer(self.body_for(self.path.split("?")[0], "watch=" in self.path))

    def body_for(self, path: str, watching: bool) -> dict:
        if path.endswith("/jobsets/train"):
            return JOBSET
        if path.endswith("/jobsets"):
            return {"kind": "JobSetList", "metadata": {"resourceVersion": "7"}, "items": [JOBSET]}
        if path.endswith("/pods"):
            return {"kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": [POD]}
        return {"kind": "List", "metadata": {"resourceVersion": "7"}, "items": []}

    def answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server_holding():
    """A function: (hold) -> (server, kubeconfig path's directory)."""
    started = []

    def start(hold: str, directory: Path):
        server = ThreadingHTTPServer(("127.0.0.1", 0), SilentAfter)
        server.daemon_threads = True
        server.hold, server.held, server.release = hold, threading.Event(), threading.Event()  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        kubeconfig = directory / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: here\n"
            f"clusters: [{{name: here, cluster: {{server: 'http://127.0.0.1:{server.server_port}'}}}}]\n"
            "contexts: [{name: here, context: {cluster: here, user: me, namespace: default}}]\n"
            "users: [{name: me, user: {token: t}}]\n"
        )
        return server, kubeconfig

    yield start
    for server in started:
        server.release.set()
        server.shutdown()
        server.server_close()


def interrupt_while_held(server, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    env.update(KUBECONFIG=str(kubeconfig), PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        from_a_terminal([sys.executable, "-m", "compiler", *args]),
        cwd=kubeconfig.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.held.wait(HANG_GUARD), "the command never reached the held request"
        time.sleep(0.2)  # inside the read, not between two requests
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=HANG_GUARD)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize(
    ("args", "hold"),
    [
        (("status", "train"), "/jobsets/train"),
        (("watch", "train"), "/jobsets/train"),
        (("logs", "train"), "/log"),
        (("cancel", "train"), "/jobsets/train"),
        (("list",), "/jobsets"),
    ],
    ids=["status-lookup", "watch-lookup", "logs", "cancel-lookup", "list"],
)
def test_ctrl_c_on_a_silent_request_exits_130_in_one_line(server_holding, tmp_path, args, hold):
    server, kubeconfig = server_holding(hold, tmp_path)
    result = interrupt_while_held(server, kubeconfig, *args)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert "Aborted!" not in result.stderr
    assert set(result.stderr.splitlines()) <= {"interrupted"}, result.stderr


def test_ctrl_c_on_a_silent_watch_stops_watching_and_says_how_to_reattach(server_holding, tmp_path):
    server, kubeconfig = server_holding("watch=1", tmp_path)
    result = interrupt_while_held(server, kubeconfig, "watch", "train")
    assert result.returncode == 130, result.stderr
    assert "Running" in result.stdout
    assert "Reattach with: compile watch jobset/train -n default" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_on_a_silent_log_stream_exits_130(server_holding, tmp_path):
    server, kubeconfig = server_holding("follow=true", tmp_path)
    result = interrupt_while_held(server, kubeconfig, "logs", "-f", "train")
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
