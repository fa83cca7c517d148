"""A real Kubernetes control plane on 127.0.0.1 for the cluster tests.

Runs the binaries that ``testbed/build.sh`` builds from source: etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, the JobSet
controller (with its admission webhooks) and kwok (fake nodes that play the
pod lifecycle; there is no container runtime). Pure standard library; the
PKI is made with the ``openssl`` command.

    cp = ControlPlane()
    cp.start()            # 20-50 s once the binaries are built
    cp.kubectl("get", "nodes")
    cp.restart_apiserver()
    cp.stop()             # kills every process it started, removes its temp dir

By hand::

    python -m testbed.controlplane start   # prints `export KUBECONFIG=...`
    python -m testbed.controlplane env
    python -m testbed.controlplane stop

Everything listens on 127.0.0.1 only; the fake nodes' and pods' IPs are in
127.0.0.0/8 too, so nothing can ever be sent off this machine.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VERSIONS_FILE = HERE / "versions.env"
KWOK_STAGES = HERE / "kwok-stages.yaml"

#: annotation that kwok manages nodes by (kwok --manage-nodes-with-annotation-selector)
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
#: pod annotation read by testbed/kwok-stages.yaml: succeed | fail | run
OUTCOME_ANNOTATION = "testbed.manifest-compiler/outcome"
RUN_FOR_ANNOTATION = "testbed.manifest-compiler/run-for"
EXIT_CODE_ANNOTATION = "testbed.manifest-compiler/exit-code"

#: what every container "writes": kwok serves these lines as each container's log
#: (`kubectl logs`, `GET .../pods/NAME/log`), from one file for all pods (kwok's
#: ClusterLogs matches pods by name and namespace only, and test pod names are random)
POD_LOG_LINES = (
    "testbed: container started",
    "testbed: step 1/2",
    "testbed: step 2/2",
    "testbed: container done",
)

SERVICE_CIDR = "10.0.0.0/24"  # ClusterIPs are allocated from here; nothing routes them
POD_CIDR = "127.64.0.0/16"  # kwok gives pods IPs from here (loopback: never a target)

JOBSET_WEBHOOK_PATHS = {
    "mutating": [
        (
            "mjobset.kb.io",
            "/mutate-jobset-x-k8s-io-v1alpha2-jobset",
            "jobset.x-k8s.io",
            "v1alpha2",
            "jobsets",
            ["CREATE"],
        ),
        ("mpod.kb.io", "/mutate--v1-pod", "", "v1", "pods", ["CREATE"]),
    ],
    "validating": [
        (
            "vjobset.kb.io",
            "/validate-jobset-x-k8s-io-v1alpha2-jobset",
            "jobset.x-k8s.io",
            "v1alpha2",
            "jobsets",
            ["CREATE", "UPDATE"],
        ),
        ("vpod.kb.io", "/validate--v1-pod", "", "v1", "pods", ["CREATE"]),
    ],
}


class ControlPlaneError(RuntimeError):
    pass


# ----------------------------------------------------------------- helpers


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def cache_dir() -> Path:
    env = os.environ.get("MC_TESTBED_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "manifest-compiler" / "testbed"


def binary_paths(cache: Path | None = None) -> dict[str, Path]:
    """Where build.sh puts each binary: <cache>/<component>-<version>/<component>."""
    cache = cache or cache_dir()
    v = read_versions()
    k8s = v["KUBERNETES_VERSION"]
    comps = {
        "etcd": v["ETCD_VERSION"],
        "kube-apiserver": k8s,
        "kube-controller-manager": k8s,
        "kube-scheduler": k8s,
        "kubectl": k8s,
        "jobset": v["JOBSET_VERSION"],
        "kwok": v["KWOK_VERSION"],
    }
    return {c: cache / f"{c}-{ver}" / c for c, ver in comps.items()}


def missing_binaries(cache: Path | None = None) -> list[str]:
    return [c for c, p in binary_paths(cache).items() if not os.access(p, os.X_OK)]


def build(log: Callable[[str], None] | None = None) -> None:
    """Run testbed/build.sh (does nothing when every binary is cached)."""
    if not missing_binaries():
        return
    if shutil.which("go") is None:
        raise ControlPlaneError("testbed binaries are missing and 'go' is not on PATH")
    (log or _log)(
        f"building testbed binaries (missing: {', '.join(missing_binaries())}); a first build takes ~12 min on 2 cores"
    )
    subprocess.run(["bash", str(HERE / "build.sh")], check=True)


def default_crd_dir() -> Path:
    env = os.environ.get("MC_TESTBED_CRDS")
    if env:
        return Path(env)
    # the shared material sits beside the repository (…/main and …/shared)
    return REPO.parent / "shared" / "crds"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log(msg: str) -> None:
    print(f"[testbed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed: {proc.stderr.strip()}")


def _wait(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    interval: float = 0.2,
    alive: Callable[[], None] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------- PKI


class PKI:
    """CA, serving and client certificates made with the openssl CLI (EC P-256)."""

    def __init__(self, d: Path):
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.dir / name

    def _key(self, name: str) -> None:
        _openssl(
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            f"{name}.key",
            cwd=self.dir,
        )

    def make_ca(self) -> None:
        self._key("ca")
        _openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-sha256",
            "-days",
            "3650",
            "-subj",
            "/CN=manifest-compiler-testbed-ca",
            "-out",
            "ca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            cwd=self.dir,
        )

    def make_cert(
        self, name: str, subject: str, *, server_sans: Sequence[str] = (), client: bool = False
    ) -> None:
        self._key(name)
        _openssl(
            "req",
            "-new",
            "-key",
            f"{name}.key",
            "-subj",
            subject,
            "-out",
            f"{name}.csr",
            cwd=self.dir,
        )
        usages = []
        if server_sans:
            usages.append("serverAuth")
        if client:
            usages.append("clientAuth")
        ext = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=" + ",".join(usages),
        ]
        if server_sans:
            ext.append("subjectAltName=" + ",".join(server_sans))
        (self.dir / f"{name}.ext").write_text("\n".join(ext) + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.crt",
            cwd=self.dir,
        )

    def make_sa_keypair(self) -> None:
        self._key("sa")
        _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=self.dir)


# ------------------------------------------------------------ processes


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the parent dies (Linux
    prctl PR_SET_PDEATHSIG), so a killed test run leaves no server behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except Exception:
        pass


class Proc:
    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        die_with_parent: bool = True,
    ):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.die_with_parent = die_with_parent
        self.popen: subprocess.Popen | None = None
        self.pid: int | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as logf:  # the child keeps its own copy of the descriptor
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )
        self.pid = self.popen.pid

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise ControlPlaneError(
                f"{self.name} exited with code {self.popen.returncode}; last log lines:\n{self.tail()}"
            )

    def tail(self, n: int = 25) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self, grace: float = 3.0) -> None:
        # kube-apiserver v1.36 lingers ~10 s after it stopped listening on
        # SIGTERM; nothing here needs that graceful tail, so SIGKILL after 3 s
        if self.pid is None:
            return
        _kill_group(self.pid, grace, self.popen)
        self.popen = None
        self.pid = None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pgid: int, grace: float, popen: subprocess.Popen | None = None) -> None:
    """SIGTERM the process group, wait up to `grace` s, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()  # reap our child so the group can disappear
        if not _group_alive(pgid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        for _ in range(100):
            if popen is not None:
                popen.poll()
            if not _group_alive(pgid):
                break
            time.sleep(0.05)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=5)


# --------------------------------------------------------- control plane


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler +
    JobSet controller + kwok, all on 127.0.0.1, data in a temp dir."""

    def __init__(
        self,
        workdir: str | os.PathLike | None = None,
        crd_dir: str | os.PathLike | None = None,
        nodes: int = 4,
        node_capacity: dict[str, str] | None = None,
        keep_workdir: bool = False,
        detached: bool = False,
        log: Callable[[str], None] = _log,
    ):
        """detached=True: the processes outlive this Python process (CLI
        `start`); otherwise they get SIGKILL if it dies without stop()."""
        self.bins = binary_paths()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.crd_dir = Path(crd_dir) if crd_dir else default_crd_dir()
        self.node_count = nodes
        self.node_capacity = node_capacity or {
            "cpu": "32",
            "memory": "256Gi",
            "pods": "110",
            "nvidia.com/gpu": "8",
        }
        self.keep_workdir = keep_workdir
        self.detached = detached
        self.log = log
        self.procs: dict[str, Proc] = {}
        self.ports: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.started = False

    # -- public surface -------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        assert self.workdir is not None, "not started"
        return self.workdir / "kubeconfig"

    @property
    def kubectl_path(self) -> Path:
        return self.bins["kubectl"]

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def pod_log_lines(self) -> list[str]:
        """What `kubectl logs` shows for any container of any pod that started."""
        return list(POD_LOG_LINES)

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        """Run kubectl against this cluster; returns CompletedProcess (text)."""
        cmd = [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise ControlPlaneError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
            )
        return proc

    def kubectl_json(self, *args: str, **kw) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json", **kw).stdout)

    def start(self) -> ControlPlane:
        if self.started:
            return self
        missing = missing_binaries()
        if missing:
            raise ControlPlaneError(
                f"missing testbed binaries {missing}: run `bash testbed/build.sh` first"
            )
        if not self.crd_dir.is_dir():
            raise ControlPlaneError(f"CRD directory {self.crd_dir} not found (set MC_TESTBED_CRDS)")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="mc-testbed-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        t_start = time.monotonic()
        try:
            self._phase("pki", self._make_pki)
            self._phase("etcd", self._start_etcd)
            self._phase("kube-apiserver", self._start_apiserver)
            self._phase("controllers", self._start_controllers)
            self._phase("crds", self._install_crds)
            self._phase("jobset", self._start_jobset)
            self._phase("kwok+nodes", self._start_kwok)
            self._phase("ready", self._wait_ready)
        except BaseException:
            self.log(f"start-up failed; logs in {self.workdir / 'logs'}")
            self.stop(remove=False)
            raise
        self.timings["total"] = time.monotonic() - t_start
        self.started = True
        self._write_state()
        self.log(
            f"control plane up in {self.timings['total']:.1f}s at {self.server}; "
            f"KUBECONFIG={self.kubeconfig}"
        )
        return self

    def stop(self, remove: bool | None = None) -> None:
        """Kill every process (whole process groups), newest first."""
        for name in reversed(list(self.procs)):
            self.procs[name].stop()
        self.procs.clear()
        self.started = False
        if remove is None:
            remove = self._own_workdir and not self.keep_workdir
        if remove and self.workdir is not None and self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver (etcd keeps the data; clients see connection errors)."""
        self.procs["kube-apiserver"].stop()

    def start_apiserver(self) -> None:
        """Start kube-apiserver again on the same port with the same flags; wait until ready."""
        proc = self.procs["kube-apiserver"]
        proc.start()
        self._write_state()
        self._wait_apiserver_ready(proc)

    def restart_apiserver(self, down_for: float = 0.0) -> None:
        """Stop kube-apiserver, stay down `down_for` s, start it again and wait until ready."""
        self.stop_apiserver()
        if down_for:
            time.sleep(down_for)
        self.start_apiserver()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- phases -----------------------------------------------------------

    def _phase(self, name: str, fn: Callable[[], None]) -> None:
        t0 = time.monotonic()
        fn()
        self.timings[name] = time.monotonic() - t0
        self.log(f"{name}: {self.timings[name]:.1f}s")

    def _p(self, name: str) -> Path:
        assert self.workdir is not None
        return self.workdir / name

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        proc = Proc(
            name, argv, self._p("logs") / f"{name}.log", env, die_with_parent=not self.detached
        )
        proc.start()
        self.procs[name] = proc
        return proc

    def _make_pki(self) -> None:
        pki = PKI(self._p("pki"))
        self.pki = pki
        pki.make_ca()
        pki.make_cert(
            "apiserver",
            "/CN=kube-apiserver",
            server_sans=[
                "IP:127.0.0.1",
                "IP:10.0.0.1",
                "DNS:localhost",
                "DNS:kubernetes",
                "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc",
                "DNS:kubernetes.default.svc.cluster.local",
            ],
        )
        pki.make_cert("admin", "/O=system:masters/CN=testbed-admin", client=True)
        pki.make_cert(
            "webhook", "/CN=jobset-webhook", server_sans=["IP:127.0.0.1", "DNS:localhost"]
        )
        # kwok's kubelet-like server (logs) and the API server's identity towards it;
        # every node's InternalIP is 127.0.0.1 (kwok --node-ip)
        pki.make_cert(
            "kwok-serving", "/CN=kwok-kubelet", server_sans=["IP:127.0.0.1", "DNS:localhost"]
        )
        pki.make_cert(
            "apiserver-kubelet-client",
            "/O=system:masters/CN=kube-apiserver-kubelet-client",
            client=True,
        )
        # front proxy (aggregation layer) identity: unused here, but without it
        # every component logs a missing requestheader CA over and over
        pki.make_cert("front-proxy-client", "/CN=front-proxy-client", client=True)
        pki.make_sa_keypair()
        for name in (
            "apiserver",
            "etcd-client",
            "admin",
            "webhook",
            "jobset",
            "kwok",
            "kcm",
            "scheduler",
        ):
            self.ports.setdefault(name, free_port())
        self.ports["etcd-peer"] = free_port()
        self._write_kubeconfig()

    def _write_kubeconfig(self) -> None:
        pki = self.pki
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "testbed",
                    "cluster": {
                        "server": f"https://127.0.0.1:{self.ports['apiserver']}",
                        "certificate-authority-data": _b64(pki.path("ca.crt")),
                    },
                }
            ],
            "users": [
                {
                    "name": "testbed-admin",
                    "user": {
                        "client-certificate-data": _b64(pki.path("admin.crt")),
                        "client-key-data": _b64(pki.path("admin.key")),
                    },
                }
            ],
            "contexts": [
                {"name": "testbed", "context": {"cluster": "testbed", "user": "testbed-admin"}}
            ],
            "current-context": "testbed",
        }
        # JSON is valid YAML: kubectl and every client-go reader accept it
        self.kubeconfig.write_text(json.dumps(cfg, indent=2) + "\n")
        self.kubeconfig.chmod(0o600)

    def _start_etcd(self) -> None:
        data = self._p("etcd")
        cport, pport = self.ports["etcd-client"], self.ports["etcd-peer"]
        proc = self._spawn(
            "etcd",
            [
                str(self.bins["etcd"]),
                "--name",
                "testbed",
                "--data-dir",
                str(data),
                "--listen-client-urls",
                f"http://127.0.0.1:{cport}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{cport}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{pport}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{pport}",
                "--initial-cluster",
                f"testbed=http://127.0.0.1:{pport}",
                "--initial-cluster-state",
                "new",
                "--unsafe-no-fsync",
                "--quota-backend-bytes",
                str(2 * 1024**3),
                "--log-level",
                "warn",
            ],
        )

        def healthy() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{cport}/health", timeout=2) as r:
                return json.loads(r.read()).get("health") == "true"

        _wait("etcd /health", healthy, 30, alive=proc.check_alive)

    def _apiserver_argv(self) -> list[str]:
        pki = self.pki
        return [
            str(self.bins["kube-apiserver"]),
            "--bind-address",
            "127.0.0.1",
            "--advertise-address",
            "127.0.0.1",
            "--secure-port",
            str(self.ports["apiserver"]),
            "--etcd-servers",
            f"http://127.0.0.1:{self.ports['etcd-client']}",
            "--tls-cert-file",
            str(pki.path("apiserver.crt")),
            "--tls-private-key-file",
            str(pki.path("apiserver.key")),
            "--client-ca-file",
            str(pki.path("ca.crt")),
            "--service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file",
            str(pki.path("sa.pub")),
            "--service-account-signing-key-file",
            str(pki.path("sa.key")),
            "--api-audiences",
            "https://kubernetes.default.svc.cluster.local",
            "--requestheader-client-ca-file",
            str(pki.path("ca.crt")),
            "--requestheader-allowed-names",
            "front-proxy-client",
            "--requestheader-username-headers",
            "X-Remote-User",
            "--requestheader-group-headers",
            "X-Remote-Group",
            "--requestheader-extra-headers-prefix",
            "X-Remote-Extra-",
            "--proxy-client-cert-file",
            str(pki.path("front-proxy-client.crt")),
            "--proxy-client-key-file",
            str(pki.path("front-proxy-client.key")),
            "--service-cluster-ip-range",
            SERVICE_CIDR,
            "--authorization-mode",
            "Node,RBAC",
            # pod logs: the API server calls the node's kubelet endpoint, here kwok's
            # server at <InternalIP>:<daemonEndpoints.kubeletEndpoint.Port>, verifying its cert
            "--kubelet-preferred-address-types",
            "InternalIP",
            "--kubelet-certificate-authority",
            str(pki.path("ca.crt")),
            "--kubelet-client-certificate",
            str(pki.path("apiserver-kubelet-client.crt")),
            "--kubelet-client-key",
            str(pki.path("apiserver-kubelet-client.key")),
            "--allow-privileged=true",
            # no kube-apiserver endpoint in the `kubernetes` Service: it would be
            # 127.0.0.1, which Endpoints may not hold, and nothing here needs it
            "--endpoint-reconciler-type",
            "none",
            "--cert-dir",
            str(self._p("apiserver-certs")),
            "--profiling=false",
            "--v",
            "1",
        ]

    def _start_apiserver(self) -> None:
        proc = self._spawn("kube-apiserver", self._apiserver_argv())
        self._wait_apiserver_ready(proc)

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.path("ca.crt")))
        ctx.load_cert_chain(str(self.pki.path("admin.crt")), str(self.pki.path("admin.key")))
        return ctx

    def _get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        req = urllib.request.Request(self.server + path)
        try:
            with urllib.request.urlopen(req, context=self._ssl_context(), timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def _wait_apiserver_ready(self, proc: Proc, timeout: float = 120) -> None:
        _wait(
            "kube-apiserver /readyz",
            lambda: self._get("/readyz")[0] == 200,
            timeout,
            alive=proc.check_alive,
        )

    def _start_controllers(self) -> None:
        pki, kc = self.pki, str(self.kubeconfig)
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bins["kube-controller-manager"]),
                "--kubeconfig",
                kc,
                "--authentication-kubeconfig",
                kc,
                "--authorization-kubeconfig",
                kc,
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                str(self.ports["kcm"]),
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                "--service-account-private-key-file",
                str(pki.path("sa.key")),
                "--root-ca-file",
                str(pki.path("ca.crt")),
                "--cluster-signing-cert-file",
                str(pki.path("ca.crt")),
                "--cluster-signing-key-file",
                str(pki.path("ca.key")),
                # every default controller (job, garbage collector, namespace,
                # serviceaccount, node lifecycle: it lifts the not-ready taint that
                # admission puts on new Nodes, ...). kwok renews the node leases; the
                # long grace period keeps nodes Ready across API server restarts.
                "--controllers",
                "*",
                "--node-monitor-grace-period",
                "5m",
                "--concurrent-job-syncs",
                "10",
                "--v",
                "1",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.bins["kube-scheduler"]),
                "--kubeconfig",
                kc,
                "--authentication-kubeconfig",
                kc,
                "--authorization-kubeconfig",
                kc,
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                str(self.ports["scheduler"]),
                "--leader-elect=false",
                "--v",
                "1",
            ],
        )
        # readiness of both is checked in _wait_ready (they need no waiting here)

    def _install_crds(self) -> None:
        files = sorted(self.crd_dir.glob("*.yaml"))
        if not files:
            raise ControlPlaneError(f"no CRD YAML files in {self.crd_dir}")
        # a fresh cluster: plain create (server-side apply of these ~6 MB of
        # schemas spends seconds computing managed fields)
        args = ["create", "--field-manager=testbed"]
        for f in files:
            args += ["-f", str(f)]
        t0 = time.monotonic()
        out = self.kubectl(*args, "-o", "name", timeout=120).stdout.split()
        self.timings["crds-create"] = time.monotonic() - t0
        names = {line.split("/", 1)[1] for line in out if "/" in line}

        def established() -> bool:
            code, body = self._get(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", timeout=30
            )
            if code != 200:
                return False
            crds = json.loads(body)["items"]
            ok = {
                c["metadata"]["name"]
                for c in crds
                if any(
                    cond.get("type") == "Established" and cond.get("status") == "True"
                    for cond in (c.get("status") or {}).get("conditions") or []
                )
            }
            return names <= ok

        _wait(f"{len(names)} CRDs Established", established, 90, interval=0.5)

    def _start_jobset(self) -> None:
        pki = self.pki
        certdir = self._p("jobset-certs")
        certdir.mkdir(exist_ok=True)
        shutil.copy(pki.path("webhook.crt"), certdir / "tls.crt")
        shutil.copy(pki.path("webhook.key"), certdir / "tls.key")
        port, health = self.ports["webhook"], self.ports["jobset"]
        cfg = self._p("jobset-config.yaml")
        # JobSet's own cert management creates a Secret and patches webhook
        # configurations that point at an in-cluster Service; here it is off and
        # the webhooks reach the controller at 127.0.0.1 through `url`.
        cfg.write_text(
            "apiVersion: config.jobset.x-k8s.io/v1alpha1\n"
            "kind: Configuration\n"
            "leaderElection:\n  leaderElect: false\n"
            "internalCertManagement:\n  enable: false\n"
            f"webhook:\n  port: {port}\n  host: 127.0.0.1\n  certDir: {certdir}\n"
            'metrics:\n  bindAddress: "0"\n'
            f"health:\n  healthProbeBindAddress: 127.0.0.1:{health}\n"
        )
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        proc = self._spawn(
            "jobset",
            [
                str(self.bins["jobset"]),
                "--config",
                str(cfg),
                "--zap-devel=false",
                "--zap-log-level=info",
            ],
            env=env,
        )

        def ready() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as r:
                return r.status == 200

        _wait("jobset controller /readyz", ready, 60, alive=proc.check_alive)
        self._apply_webhooks()

    def _apply_webhooks(self) -> None:
        ca = _b64(self.pki.path("ca.crt"))
        base = f"https://127.0.0.1:{self.ports['webhook']}"
        docs = []
        for kind_key, kind in (
            ("mutating", "MutatingWebhookConfiguration"),
            ("validating", "ValidatingWebhookConfiguration"),
        ):
            hooks = []
            for name, path, group, version, resource, ops in JOBSET_WEBHOOK_PATHS[kind_key]:
                hook = {
                    "name": name,
                    "admissionReviewVersions": ["v1"],
                    "clientConfig": {"url": base + path, "caBundle": ca},
                    "failurePolicy": "Fail",
                    "sideEffects": "None",
                    "timeoutSeconds": 10,
                    "rules": [
                        {
                            "apiGroups": [group],
                            "apiVersions": [version],
                            "operations": ops,
                            "resources": [resource],
                        }
                    ],
                }
                if resource == "pods":
                    # as JobSet's release manifests: only pods that JobSet made
                    hook["objectSelector"] = {
                        "matchExpressions": [
                            {"key": "jobset.sigs.k8s.io/jobset-name", "operator": "Exists"}
                        ]
                    }
                hooks.append(hook)
            docs.append(
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": kind,
                    "metadata": {"name": f"jobset-{kind_key}-webhook-configuration"},
                    "webhooks": hooks,
                }
            )
        self.kubectl(
            "apply",
            "--server-side",
            "--field-manager=testbed",
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
        )

    def _write_kwok_logs_config(self) -> Path:
        """A CRI-format log file that every container "wrote", and the ClusterLogs
        (kwok's config API) that makes kwok serve it for every pod and container."""
        log_file = self._p("kwok-logs") / "container.log"
        log_file.parent.mkdir(exist_ok=True)
        log_file.write_text(
            "".join(
                f"2026-01-01T00:00:0{i}.000000000Z stdout F {line}\n"
                for i, line in enumerate(POD_LOG_LINES)
            )
        )
        config = self._p("kwok-logs.yaml")
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kwok.x-k8s.io/v1alpha1",
                    "kind": "ClusterLogs",
                    "metadata": {"name": "testbed-logs"},
                    # no selector: every pod; no containers: every container
                    "spec": {"logs": [{"logsFile": str(log_file), "follow": True}]},
                },
                indent=2,
            )
            + "\n"
        )
        return config

    def _start_kwok(self) -> None:
        pki = self.pki
        self._spawn(
            "kwok",
            [
                str(self.bins["kwok"]),
                "--kubeconfig",
                str(self.kubeconfig),
                "--config",
                str(KWOK_STAGES),
                "--config",
                str(self._write_kwok_logs_config()),
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                "--node-ip",
                "127.0.0.1",
                "--cidr",
                POD_CIDR,
                # the kubelet-like server (HTTPS and HTTP on one port); the node stage
                # advertises --node-port as status.daemonEndpoints.kubeletEndpoint.Port
                "--server-address",
                f"127.0.0.1:{self.ports['kwok']}",
                "--node-port",
                str(self.ports["kwok"]),
                "--tls-cert-file",
                str(pki.path("kwok-serving.crt")),
                "--tls-private-key-file",
                str(pki.path("kwok-serving.key")),
                "--node-lease-duration-seconds",
                "40",
                # a private HOME: kwok would also load a user's ~/.kwok/kwok.yaml
            ],
            env=dict(os.environ, HOME=str(self._p("kwok-home"))),
        )
        nodes = [self._node_manifest(i) for i in range(self.node_count)]
        self.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}),
        )

    def node_names(self) -> list[str]:
        return [f"kwok-node-{i}" for i in range(self.node_count)]

    def _node_manifest(self, i: int) -> dict:
        name = f"kwok-node-{i}"
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                    "node.kubernetes.io/instance-type": "kwok-gpu",
                    "topology.kubernetes.io/zone": f"zone-{i % 2}",
                    "nvidia.com/gpu.present": "true",
                },
            },
            "spec": {},
            "status": {
                "capacity": dict(self.node_capacity),
                "allocatable": dict(self.node_capacity),
            },
        }

    def _wait_ready(self) -> None:
        def nodes_ready() -> bool:
            data = self.kubectl_json("get", "nodes", check=True)
            ready = 0
            for item in data["items"]:
                for c in item.get("status", {}).get("conditions", []):
                    if (
                        c["type"] == "Ready"
                        and c["status"] == "True"
                        and not item["spec"].get("taints")
                    ):
                        ready += 1
            return ready >= self.node_count

        def alive() -> None:
            for p in self.procs.values():
                p.check_alive()

        _wait("kwok nodes Ready and untainted", nodes_ready, 60, interval=0.5, alive=alive)
        # the ServiceAccount admission plugin rejects pods until the
        # serviceaccount controller made `default` (proves the KCM works too)
        _wait(
            "default ServiceAccount",
            lambda: (
                self.kubectl(
                    "get", "serviceaccount", "default", "-n", "default", check=False
                ).returncode
                == 0
            ),
            60,
            interval=0.5,
            alive=alive,
        )
        _wait(
            "kube-scheduler /readyz",
            lambda: self._get_local(self.ports["scheduler"], "/readyz"),
            60,
            interval=0.5,
            alive=alive,
        )

    def _get_local(self, port: int, path: str) -> bool:
        # kube-scheduler serves /readyz on its own self-signed cert; /readyz is
        # anonymous-allowed (always-allow paths), so skip verification here only
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=ctx, timeout=2) as r:
            return r.status == 200

    # -- state for the CLI ------------------------------------------------

    def _write_state(self) -> None:
        state = {
            "workdir": str(self.workdir),
            "kubeconfig": str(self.kubeconfig),
            "server": self.server,
            "kubectl": str(self.kubectl_path),
            "pids": {name: p.pid for name, p in self.procs.items()},
            "ports": self.ports,
            "apiserver_argv": self.procs["kube-apiserver"].argv
            if "kube-apiserver" in self.procs
            else None,
        }
        assert self.workdir is not None
        (self.workdir / "state.json").write_text(json.dumps(state, indent=2) + "\n")


# ------------------------------------------------------------------ CLI


def _state_link() -> Path:
    return cache_dir() / "run" / "current.json"


def _cli_start(args: argparse.Namespace) -> int:
    if _state_link().exists():
        print(
            f"a testbed is already recorded in {_state_link()}; run `stop` first", file=sys.stderr
        )
        return 1
    if args.build:
        build()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="mc-testbed-"))
    cp = ControlPlane(workdir=workdir, nodes=args.nodes, keep_workdir=True, detached=True)
    cp.start()
    _state_link().parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(workdir / "state.json", _state_link())
    print(f"export KUBECONFIG={cp.kubeconfig}")
    print(f"alias kubectl={cp.kubectl_path}")
    return 0


def _load_state() -> dict | None:
    link = _state_link()
    if not link.exists():
        return None
    data = json.loads(link.read_text())
    # the workdir copy is authoritative (restart_apiserver rewrites it)
    wd_state = Path(data["workdir"]) / "state.json"
    if wd_state.exists():
        data = json.loads(wd_state.read_text())
    return data


def _cli_stop(args: argparse.Namespace) -> int:
    state = _load_state()
    if state is None:
        print("no testbed recorded", file=sys.stderr)
        return 0
    for name, pid in reversed(list(state["pids"].items())):
        if pid:
            _kill_group(int(pid), 3.0)
            print(f"stopped {name} (pgid {pid})", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(state["workdir"], ignore_errors=True)
    _state_link().unlink(missing_ok=True)
    return 0


def _cli_env(args: argparse.Namespace) -> int:
    state = _load_state()
    if state is None:
        print("no testbed running (python -m testbed.controlplane start)", file=sys.stderr)
        return 1
    print(f"export KUBECONFIG={state['kubeconfig']}")
    print(f"alias kubectl={state['kubectl']}")
    return 0


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m testbed.controlplane",
        description="Start/stop the manifest-compiler test control plane.",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start it in the background and print `export KUBECONFIG=...`")
    s.add_argument("--workdir", help="data/log dir (default: a new temp dir)")
    s.add_argument("--nodes", type=int, default=4, help="number of kwok nodes (default 4)")
    s.add_argument(
        "--no-build",
        dest="build",
        action="store_false",
        help="fail instead of running testbed/build.sh when binaries are missing",
    )
    s.set_defaults(fn=_cli_start)
    p = sub.add_parser("stop", help="stop it and remove its data")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    p.set_defaults(fn=_cli_stop)
    e = sub.add_parser("env", help="print `export KUBECONFIG=...` for the running one")
    e.set_defaults(fn=_cli_env)
    args = ap.parse_args(list(argv) if argv is not None else None)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
