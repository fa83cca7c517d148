"""The agent: a Node whose bound pods really run (testbed/agent/pods.py), its heartbeat, the
hosts file its pods resolve through, and the kubelet's log endpoint."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import shutil
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from compiler.local import hosts
from testbed.agent.kube import ApiError, Kube
from testbed.agent.pods import PodRunner, RuntimeConfig, now

#: label and taint of agent nodes: only pods that select and tolerate them land there
AGENT_LABEL = "testbed.manifest-compiler/agent"
#: the agent's pod IPs: the top of the testbed's pod range (kwok allocates from its bottom)
AGENT_POD_RANGE = "127.64.240.0/20"
LEASE_SECONDS = 40


def _log(msg: str) -> None:
    print(f"[agent {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Agent:
    def __init__(
        self,
        kube: Kube,
        node_name: str,
        workdir: Path,
        serving_cert: Path,
        serving_key: Path,
        *,
        venv: Path | None = None,
        image_root: Path | None = None,
        hosts_file: Path | None = None,
        capacity: Mapping[str, str] | None = None,
        max_pod_seconds: float = 600.0,
        pod_range: str = AGENT_POD_RANGE,
    ):
        self.kube = kube
        self.node_name = node_name
        self.workdir = workdir
        self.serving_cert = serving_cert
        self.serving_key = serving_key
        self.capacity = dict(
            capacity or {"cpu": "64", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"}
        )
        self.own_hosts = hosts_file is None
        self.hosts_file = hosts_file or workdir / "hosts"
        self.resolv_file = workdir / "resolv.conf"
        self.cfg = RuntimeConfig(
            node_name=node_name,
            host_ip="127.0.0.1",
            venv=venv,
            image_root=image_root,
            hosts_file=self.hosts_file,
            resolv_file=self.resolv_file,
            max_pod_seconds=max_pod_seconds,
            allocatable=self.capacity,
        )
        self.ips = (str(ip) for ip in ipaddress.ip_network(pod_range).hosts())
        self.runners: dict[str, PodRunner] = {}  # by pod uid
        self.admitted = 0
        self.stopping = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self._block: list[tuple[str, list[str]]] | None = None

    # -- start / stop --------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.resolv_file.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        if self.own_hosts:
            self.hosts_file.write_text(hosts.LOCALHOST)
        self._serve_logs()
        self._register()
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()

    def run(self) -> None:
        """Sync pods until stop() (or SIGTERM in the CLI)."""
        while not self.stopping.is_set():
            try:
                self.sync()
            except (ApiError, OSError) as e:
                _log(f"sync: {e}")
            self.stopping.wait(0.3)

    def stop(self) -> None:
        self.stopping.set()
        for runner in list(self.runners.values()):
            runner.kill()
        for runner in list(self.runners.values()):
            runner.finished.wait(15)
        self.cfg.mount_points.remove()
        if self.server is not None:
            self.server.shutdown()
        with contextlib.suppress(ApiError, OSError):
            self.kube.request("DELETE", f"/api/v1/nodes/{self.node_name}")
        with contextlib.suppress(OSError):
            self._write_hosts([])

    # -- node ----------------------------------------------------------------

    def _node(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "labels": {
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "agent",
                    AGENT_LABEL: "true",
                },
            },
            "spec": {"taints": [{"key": AGENT_LABEL, "value": "true", "effect": "NoSchedule"}]},
        }

    def _node_status(self) -> dict:
        stamp = now()
        return {
            "status": {
                "capacity": self.capacity,
                "allocatable": self.capacity,
                "conditions": [
                    {
                        "type": kind,
                        "status": status,
                        "reason": reason,
                        "message": reason,
                        "lastHeartbeatTime": stamp,
                        "lastTransitionTime": stamp,
                    }
                    for kind, status, reason in (
                        ("Ready", "True", "AgentReady"),
                        ("MemoryPressure", "False", "AgentHasSufficientMemory"),
                        ("DiskPressure", "False", "AgentHasNoDiskPressure"),
                        ("PIDPressure", "False", "AgentHasSufficientPID"),
                    )
                ],
                "addresses": [
                    {"type": "InternalIP", "address": "127.0.0.1"},
                    {"type": "Hostname", "address": self.node_name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "kubeletVersion": "testbed-agent",
                    "kubeProxyVersion": "",
                    "containerRuntimeVersion": "testbed-agent://processes",
                    "kernelVersion": os.uname().release,
                    "osImage": "testbed agent",
                    "bootID": "",
                    "machineID": "",
                    "systemUUID": "",
                },
            }
        }

    def _register(self) -> None:
        with contextlib.suppress(ApiError):
            self.kube.request("DELETE", f"/api/v1/nodes/{self.node_name}")
        self.kube.request("POST", "/api/v1/nodes", self._node())
        self.kube.merge_patch(f"/api/v1/nodes/{self.node_name}/status", self._node_status())
        self._renew_lease()

    def _renew_lease(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node_name}"
        micro = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec = {
            "holderIdentity": self.node_name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": micro,
        }
        try:
            self.kube.merge_patch(path, {"spec": spec})
        except ApiError as e:
            if e.code != 404:
                raise
            self.kube.request(
                "POST",
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.node_name, "namespace": "kube-node-lease"},
                    "spec": spec,
                },
            )

    def _heartbeat(self) -> None:
        while not self.stopping.wait(10):
            with contextlib.suppress(ApiError, OSError):
                self._renew_lease()
                self.kube.merge_patch(f"/api/v1/nodes/{self.node_name}/status", self._node_status())

    # -- pods ----------------------------------------------------------------

    def sync(self) -> None:
        selector = urllib.parse.quote(f"spec.nodeName={self.node_name}")
        pods = self.kube.get(f"/api/v1/pods?fieldSelector={selector}")["items"]
        seen = set()
        admitted: list[PodRunner] = []
        for pod in pods:
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            runner = self.runners.get(uid)
            if runner is not None:
                runner.keep_conditions(pod)
            if pod["metadata"].get("deletionTimestamp"):
                self._delete(pod, runner)
                continue
            if runner is None and pod["status"].get("phase", "Pending") == "Pending":
                admitted.append(self._admit(pod))
        for uid in list(self.runners):
            if uid not in seen:
                runner = self.runners.pop(uid)
                runner.kill()
                self._remove_workdir_later(runner)
        self._refresh_hosts()  # a pod's own name resolves before its processes start
        for runner in admitted:
            runner.start()

    def _admit(self, pod: dict) -> PodRunner:
        ip = next(self.ips)
        meta = pod["metadata"]
        # short: Ray puts unix sockets under the pod's TMPDIR, and those paths may not
        # exceed 107 bytes
        self.admitted += 1
        workdir = self.workdir / f"p{self.admitted}"
        (self.workdir / f"p{self.admitted}.pod").write_text(
            f"{meta['namespace']}/{meta['name']} {meta['uid']}\n"
        )
        runner = PodRunner(self.kube, pod, ip, workdir, self.cfg)
        self.runners[meta["uid"]] = runner
        _log(f"pod {meta['namespace']}/{meta['name']} ip {ip}")
        return runner

    def _delete(self, pod: dict, runner: PodRunner | None) -> None:
        if runner is not None:
            runner.end_deleted()
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):
            self.kube.request(
                "DELETE",
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
            )

    def _remove_workdir_later(self, runner: PodRunner) -> None:
        def remove() -> None:
            runner.finished.wait(15)
            shutil.rmtree(runner.dir, ignore_errors=True)

        threading.Thread(target=remove, daemon=True).start()

    # -- names ---------------------------------------------------------------

    def _refresh_hosts(self) -> None:
        pods = []
        for runner in self.runners.values():
            if runner.finished.is_set():
                continue
            pod = dict(runner.pod)
            pod["status"] = {"podIP": runner.ip}
            pods.append(pod)
        services = self.kube.get("/api/v1/services")["items"] if pods else []
        block = hosts.entries(pods, services)
        if block != self._block:
            self._write_hosts(block)

    def _write_hosts(self, block: list[tuple[str, list[str]]]) -> None:
        """Replace the agent's block of the hosts file, keeping every other line (the file may
        be shared with the control plane). In place: a bind mount pins the inode, so a renamed
        file would not be seen."""
        text = hosts.replace_block(self.hosts_file.read_text(), block)
        data = text.encode()
        fd = os.open(self.hosts_file, os.O_WRONLY)
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
        self._block = block

    # -- logs ----------------------------------------------------------------

    def _serve_logs(self) -> None:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                agent._handle_log(self)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.serving_cert), str(self.serving_key))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self.server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, name="logs", daemon=True).start()

    def _find(self, namespace: str, name: str) -> PodRunner | None:
        for runner in self.runners.values():
            if runner.namespace == namespace and runner.name == name:
                return runner
        return None

    def _handle_log(self, req: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlparse(req.path)
        parts = url.path.strip("/").split("/")
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        if len(parts) != 4 or parts[0] != "containerLogs":
            _reply(req, 404, f"not found: {url.path}\n")
            return
        _, namespace, name, container = parts
        runner = self._find(namespace, name)
        path = (
            runner.log_file(container, previous=query.get("previous") == "true") if runner else None
        )
        if runner is None or path is None:
            _reply(req, 404, f'container "{container}" in pod "{name}" has no log\n')
            return
        follow = query.get("follow") == "true"
        data = path.read_bytes()
        offset = len(data)
        if "tailLines" in query:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(query["tailLines"]) :]) if int(query["tailLines"]) else b""
        if "limitBytes" in query:
            data = data[: int(query["limitBytes"])]
        req.send_response(200)
        req.send_header("Content-Type", "text/plain")
        if not follow:
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
            return
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        try:
            _chunk(req, data)
            while True:
                running = runner.container_running(container)
                with open(path, "rb") as f:
                    f.seek(offset)
                    more = f.read()
                offset += len(more)
                if more:
                    _chunk(req, more)
                if not running or self.stopping.is_set():
                    break
                time.sleep(0.2)
            req.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


def _chunk(req: BaseHTTPRequestHandler, data: bytes) -> None:
    if data:
        req.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        req.wfile.flush()


def _reply(req: BaseHTTPRequestHandler, code: int, text: str) -> None:
    body = json.dumps(
        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": text, "code": code}
    ).encode()
    req.send_response(code)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)
