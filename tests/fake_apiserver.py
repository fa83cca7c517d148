"""Loopback servers for the cluster commands: a small fake Kubernetes API server that answers as
a real one does, and the same server made to misbehave (HTML, JSON of the wrong shape, HTTP
errors, silence, huge answers), for tests/test_misbehaving_servers.py.

Every server binds 127.0.0.1 on a port of its own, serves from daemon threads, and stops when its
``with`` block ends. TLS uses a CA and certificates made at test time (the testbed's openssl PKI).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from compiler.cluster.kinds import answer_of_path
from testbed.controlplane.pki import LOOPBACK_SANS, PKI

NAMESPACE = "default"
JOB_NAME = "train"
JOBSETS = f"/apis/jobset.x-k8s.io/v1alpha2/namespaces/{NAMESPACE}/jobsets"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
POD_NAME = "train-worker-0-0-abcde"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    stream: Callable[[BaseHTTPRequestHandler], None] | None = None  # writes the body itself
    silent: bool = False  # never answer (not even headers)
    headers: dict[str, str] | None = None  # more headers (a stream may say Transfer-Encoding)


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> bytes:
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details or {},
            "code": code,
        }
    ).encode()


def not_found(path: str) -> Answer:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return Answer(404, status_body(404, "NotFound", f'"{name}" not found', {"name": name}))


def jobset(phase: str = "Running") -> dict:
    status: dict = {"replicatedJobsStatus": [{"name": "worker", "ready": 1, "active": 1}]}
    if phase == "Succeeded":
        status = {
            "terminalState": "Completed",
            "conditions": [
                {
                    "type": "Completed",
                    "status": "True",
                    "reason": "AllJobsCompleted",
                    "message": "jobset completed successfully",
                    "lastTransitionTime": "2026-12-01T10:05:00Z",
                }
            ],
        }
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {
            "name": JOB_NAME,
            "namespace": NAMESPACE,
            "uid": "uid-train",
            "resourceVersion": "7",
            "creationTimestamp": "2026-12-01T10:00:00Z",
            "labels": {"app.kubernetes.io/managed-by": "manifest-compiler"},
        },
        "spec": {"replicatedJobs": [{"name": "worker", "replicas": 1}]},
        "status": status,
    }


def pod() -> dict:
    return {
        "metadata": {
            "name": POD_NAME,
            "namespace": NAMESPACE,
            "creationTimestamp": "2026-12-01T10:00:01Z",
            "labels": {
                "jobset.sigs.k8s.io/jobset-name": JOB_NAME,
                "jobset.sigs.k8s.io/replicatedjob-name": "worker",
                "jobset.sigs.k8s.io/job-index": "0",
                "jobset.sigs.k8s.io/job-global-index": "0",
                "batch.kubernetes.io/job-completion-index": "0",
            },
        },
        "spec": {"containers": [{"name": "worker", "image": "busybox"}]},
        "status": {"phase": "Running"},
    }


def listed(kind: str, items: list[dict], resource_version: str = "7") -> bytes:
    return json.dumps(
        {
            "kind": f"{kind}List",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": resource_version},
            "items": items,
        }
    ).encode()


@dataclass
class FakeKubernetes:
    """Answers the requests of the cluster commands about one JobSet ``train``, as a real API
    server does. ``phase``: the JobSet's; a watch sends it once, then ends (``watch_ends``) or
    stays open sending nothing more (a quiet job)."""

    phase: str = "Succeeded"
    watch_ends: bool = True
    streams_silent: bool = False  # watches and logs are never answered
    log_lines: tuple[str, ...] = ("hello", "world")
    deleted: bool = False

    def answer(self, method: str, path: str, query: dict) -> Answer:
        streaming = query.get("watch") or query.get("follow") or path.endswith("/log")
        if self.streams_silent and streaming:
            return Answer(silent=True)
        if method == "PATCH":  # server-side apply: the object as applied
            self.deleted = False
            applied = jobset("Running") if "jobsets" in path else {"metadata": {"name": "x"}}
            return Answer(200, json.dumps(applied).encode())
        if path == f"{JOBSETS}/{JOB_NAME}":
            if self.deleted:
                return not_found(path)
            if method == "DELETE":
                self.deleted = True
            return Answer(200, json.dumps(jobset(self.phase)).encode())
        if path.startswith(JOBSETS + "/"):
            return not_found(path)
        if path == JOBSETS and query.get("watch"):
            return Answer(stream=self._watch)
        if path == JOBSETS:
            return Answer(200, listed("JobSet", [jobset(self.phase)]))
        if path == PODS:
            return Answer(200, listed("Pod", [pod()] if "labelSelector" in query else []))
        if path == f"{PODS}/{POD_NAME}/log":
            lines = [
                f"2026-12-01T10:00:0{i}.5Z {line}" if query.get("timestamps") else line
                for i, line in enumerate(self.log_lines)
            ]
            return Answer(200, ("\n".join(lines) + "\n").encode(), "text/plain")
        if path == f"{PODS}/{POD_NAME}":
            return Answer(200, json.dumps(pod()).encode())
        kind, listing = answer_of_path(path)
        if kind and listing:
            return Answer(200, listed(kind, []))
        return not_found(path)

    def _watch(self, handler: BaseHTTPRequestHandler) -> None:
        bookmark = {"kind": "JobSet", "metadata": {"resourceVersion": "8"}}  # as a server sends it
        for event in (
            {"type": "BOOKMARK", "object": bookmark},
            {"type": "MODIFIED", "object": jobset(self.phase)},
        ):
            handler.wfile.write(json.dumps(event).encode() + b"\n")
        handler.wfile.flush()
        if not self.watch_ends:
            handler.server.stopping.wait(600)  # type: ignore[attr-defined]  # a quiet job


Behaviour = Callable[[str, str, dict], Answer]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    behaviour: Behaviour

    def log_message(self, format, *args):  # quiet
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        self.server.authorizations.append(  # type: ignore[attr-defined]
            self.headers.get("Authorization")
        )
        self.server.clients.add(self.client_address)  # type: ignore[attr-defined]
        answer = self.behaviour(self.command, parts.path, query)
        if answer.silent:
            self.server.stopping.wait(600)  # type: ignore[attr-defined]  # until the test ends
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        for name, value in (answer.headers or {}).items():
            self.send_header(name, value)
        if answer.stream is not None:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            with contextlib.suppress(OSError):  # the client gave up
                answer.stream(self)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path) -> Pki:
    pki = PKI(directory)
    pki.make_ca()
    pki.make_cert("server", "/CN=fake-apiserver", server_sans=LOOPBACK_SANS)
    pki.make_cert("client", "/CN=ada/O=team-a", client=True)
    return Pki(
        pki.path("ca.crt"),
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.path("client.crt"),
        pki.path("client.key"),
    )


class Serving:
    """A server on 127.0.0.1 in daemon threads; stops when the ``with`` block ends."""

    def __init__(self, behaviour: Behaviour | None, pki: Pki | None, kind: str = "http"):
        self.kind = kind  # "http", "https", "silent" (accepts, never answers), "refused"
        self.behaviour = behaviour
        self.pki = pki
        self.server: _Server | None = None
        self.listener: socket.socket | None = None
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self.authorizations: list[str | None] = []  # each request's Authorization header
        self.clients: set[tuple] = set()  # the (address, port) of each connection that asked

    @property
    def url(self) -> str:
        scheme = "http" if self.kind == "http" else "https"
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> Serving:
        if self.kind == "refused":
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
            probe.close()  # nothing listens there now
            return self
        if self.kind == "silent":
            self.listener = socket.socket()
            self.listener.bind(("127.0.0.1", 0))
            self.listener.listen(16)
            self.port = self.listener.getsockname()[1]
            self._start(self._accept_and_hold)
            return self
        handler = type("Handler", (_Handler,), {"behaviour": staticmethod(self.behaviour)})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.stopping = self.stopping  # type: ignore[attr-defined]
        self.server.authorizations = self.authorizations  # type: ignore[attr-defined]
        self.server.clients = self.clients  # type: ignore[attr-defined]
        if self.kind == "https":
            assert self.pki is not None
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
            context.load_verify_locations(self.pki.ca)
            context.verify_mode = ssl.CERT_OPTIONAL
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._start(lambda: self.server.serve_forever(poll_interval=0.05))  # type: ignore[union-attr]
        return self

    def _start(self, target) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _accept_and_hold(self) -> None:
        held = []
        assert self.listener is not None
        self.listener.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
                held.append(connection)
            except OSError:
                continue
        for connection in held:
            connection.close()

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.listener is not None:
            self.listener.close()
        for thread in self.threads:
            thread.join(2)


def kubeconfig(path: Path, url: str, pki: Pki) -> Path:
    """A kubeconfig for ``url`` with the CA and the client certificate and key embedded, as
    kubeadm and cloud providers write them."""

    def data(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "fake",
        "clusters": [
            {"name": "fake", "cluster": {"server": url, "certificate-authority-data": data(pki.ca)}}
        ],
        "users": [
            {
                "name": "ada",
                "user": {
                    "client-certificate-data": data(pki.client_cert),
                    "client-key-data": data(pki.client_key),
                },
            }
        ],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "ada"}}],
    }
    path.write_text(json.dumps(config))
    return path
