"""ControlPlane: starts the components in order, holds their processes, ports and PKI,
and stops them all. Each component lives in its own module and gets this object as the
Plane of plane.py (what the components use of it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from types import ModuleType

from . import (
    apiserver,
    controller_manager,
    crds,
    etcd,
    jobset,
    kuberay,
    kuberay_crds,
    kueue,
    kwok,
    pki,
    scheduler,
)
from .common import (
    CORE_BINARIES,
    ControlPlaneError,
    binary_paths,
    default_crd_dir,
    free_port,
    log_line,
    missing_binaries,
)
from .process import Proc

#: components started only when asked for (`ControlPlane(components=...)`), after the
#: core is ready, in this order. Each module has NAME, BINARIES, crd_files(cp), start(cp).
OPTIONAL_COMPONENTS: dict[str, ModuleType] = {
    "kuberay": kuberay,
    "kuberay-crds": kuberay_crds,
    "kueue": kueue,
}

HOSTS_HEADER = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler +
    JobSet controller + kwok, all on 127.0.0.1, data in a temp dir; optionally
    the KubeRay operator and Kueue (`components=("kuberay", "kueue")`)."""

    def __init__(
        self,
        workdir: str | os.PathLike | None = None,
        crd_dir: str | os.PathLike | None = None,
        nodes: int = 4,
        node_capacity: dict[str, str] | None = None,
        keep_workdir: bool = False,
        detached: bool = False,
        log: Callable[[str], None] = log_line,
        components: Iterable[str] = (),
        topology: kwok.Topology | None = None,
        component_config: Mapping[str, Mapping] | None = None,
        etcd_of: ControlPlane | None = None,
        name: str = "testbed",
    ):
        """detached=True: the processes outlive this Python process (CLI
        `start`); otherwise they get SIGKILL if it dies without stop().
        components: names from OPTIONAL_COMPONENTS to run as well;
        topology: kwok nodes labelled block/rack/host as well (after the `nodes` plain ones);
        component_config: per component, settings merged into its own configuration
        (e.g. {"kueue": {"multiKueue": {...}}}).
        etcd_of: a started control plane whose etcd this one shares, under the key
        prefix /<name> instead of running an etcd of its own."""
        unknown = set(components) - set(OPTIONAL_COMPONENTS)
        if unknown:
            raise ControlPlaneError(
                f"unknown components {sorted(unknown)} (known: {sorted(OPTIONAL_COMPONENTS)})"
            )
        self.components = [c for c in OPTIONAL_COMPONENTS if c in set(components)]
        self.bins = binary_paths()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.crd_dir = Path(crd_dir) if crd_dir else default_crd_dir()
        self.node_count = nodes
        self.node_capacity = node_capacity or dict(kwok.DEFAULT_NODE_CAPACITY)
        self.topology = topology
        self.keep_workdir = keep_workdir
        self.detached = detached
        self.name = name
        self.log = log if name == "testbed" else partial(_named_log, log, name)
        self.component_config = {k: dict(v) for k, v in (component_config or {}).items()}
        self.etcd_of = etcd_of
        self.procs: dict[str, Proc] = {}
        self.ports: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.pki: pki.PKI
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
        return list(kwok.POD_LOG_LINES)

    @property
    def etcd_url(self) -> str:
        owner = self.etcd_of or self
        return f"http://127.0.0.1:{owner.port('etcd-client')}"

    @property
    def etcd_prefix(self) -> str:
        """Where this plane's API server keeps its objects in etcd (its own, or a shared one)."""
        return f"/{self.name}" if self.etcd_of is not None else "/registry"

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    @property
    def hosts_file(self) -> Path:
        """The hosts file that processes in the testbed's mount namespaces see as
        /etc/hosts (KubeRay resolves the head Service through it). Append lines in
        place; never replace the file (a bind mount pins the inode)."""
        return self.path("etc/hosts")

    @property
    def resolv_conf(self) -> Path:
        """Their /etc/resolv.conf: nameserver 127.0.0.1, where nothing answers."""
        return self.path("etc/resolv.conf")

    def required_binaries(self) -> list[str]:
        extra = [b for c in self.components for b in OPTIONAL_COMPONENTS[c].BINARIES]
        return [*CORE_BINARIES, *extra]

    def crd_files(self) -> list[Path]:
        """../shared/crds, where a component's own CRD file of the same name wins
        (KubeRay runs with the CRDs of its version), plus the components' other CRDs."""
        own_by_name = {
            f.name: f for c in self.components for f in OPTIONAL_COMPONENTS[c].crd_files(self)
        }  # kuberay and kuberay-crds bring the same files
        own = list(own_by_name.values())
        names = set(own_by_name)
        return [f for f in sorted(self.crd_dir.glob("*.yaml")) if f.name not in names] + own

    def node_names(self) -> list[str]:
        return [node["metadata"]["name"] for node in self.node_manifests()]

    def node_manifests(self) -> list[dict]:
        """The kwok Nodes this plane creates: `nodes` plain ones, then the topology's."""
        plain = [kwok.node_manifest(i, self.node_capacity) for i in range(self.node_count)]
        return plain + (self.topology.node_manifests() if self.topology else [])

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
        missing = missing_binaries(names=self.required_binaries())
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
        self._write_etc()
        t_start = time.monotonic()
        try:
            self._phase("pki", self._make_pki)
            if self.etcd_of is None:
                self._phase("etcd", lambda: etcd.start(self))
            self._phase("kube-apiserver", lambda: apiserver.start(self))
            self._phase("controllers", self._start_controllers)
            self._phase("crds", lambda: crds.install(self))
            self._phase("jobset", lambda: jobset.start(self))
            if self.node_manifests():
                self._phase("kwok+nodes", lambda: kwok.start(self))
            self._phase("ready", self._wait_ready)
            for name in self.components:
                self._phase(name, partial(OPTIONAL_COMPONENTS[name].start, self))
        except BaseException:
            self.log(f"start-up failed; logs in {self.workdir / 'logs'}")
            self.stop(remove=False)
            raise
        self.timings["total"] = time.monotonic() - t_start
        self.started = True
        self.write_state()
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
        self.procs[apiserver.NAME].stop()

    def start_apiserver(self) -> None:
        """Start kube-apiserver again on the same port with the same flags; wait until ready."""
        proc = self.procs[apiserver.NAME]
        proc.start()
        self.write_state()
        apiserver.wait_ready(self, proc)

    def restart_apiserver(self, down_for: float = 0.0) -> None:
        """Stop kube-apiserver, stay down `down_for` s, start it again and wait until it
        is ready and the controllers watch it again."""
        self.stop_apiserver()
        if down_for:
            time.sleep(down_for)
        self.start_apiserver()
        controller_manager.wait_reconnected(self)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- for the component modules ------------------------------------------

    def path(self, name: str) -> Path:
        """A file or directory in the work dir."""
        assert self.workdir is not None
        return self.workdir / name

    def port(self, name: str) -> int:
        """The 127.0.0.1 port named `name`, picked free the first time it is asked for."""
        if name not in self.ports:
            self.ports[name] = free_port()
        return self.ports[name]

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start a process (its own process group, log in logs/<name>.log) that stop() kills."""
        proc = Proc(
            name, argv, self.path("logs") / f"{name}.log", env, die_with_parent=not self.detached
        )
        proc.start()
        self.procs[name] = proc
        return proc

    def child_env(self, **extra: str) -> dict[str, str]:
        """This process's environment with KUBECONFIG pointing here."""
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig), **extra)

    def check_alive(self) -> None:
        """Raise ControlPlaneError (with its log's tail) if any process has exited."""
        for p in self.procs.values():
            p.check_alive()

    def api_get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        """GET `path` from the API server as the admin: (HTTP status, body)."""
        return apiserver.get(self, path, timeout)

    # -- phases -----------------------------------------------------------

    def _phase(self, name: str, fn: Callable[[], None]) -> None:
        t0 = time.monotonic()
        fn()
        self.timings[name] = time.monotonic() - t0
        self.log(f"{name}: {self.timings[name]:.1f}s")

    def _make_pki(self) -> None:
        self.pki = pki.make(self.path("pki"), self.port("apiserver"), self.kubeconfig)

    def _write_etc(self) -> None:
        etc = self.path("etc")
        etc.mkdir(exist_ok=True)
        self.hosts_file.write_text(HOSTS_HEADER)
        self.resolv_conf.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")

    def _start_controllers(self) -> None:
        # readiness of both is checked in _wait_ready (they need no waiting here)
        controller_manager.start(self)
        scheduler.start(self)

    def _wait_ready(self) -> None:
        if self.node_manifests():
            kwok.wait_nodes_ready(self)
        controller_manager.wait_ready(self)
        scheduler.wait_ready(self)

    # -- state for the CLI ------------------------------------------------

    def write_state(self) -> None:
        state = {
            "workdir": str(self.workdir),
            "kubeconfig": str(self.kubeconfig),
            "server": self.server,
            "kubectl": str(self.kubectl_path),
            "pids": {name: p.pid for name, p in self.procs.items()},
            "ports": self.ports,
            "apiserver_argv": self.procs[apiserver.NAME].argv
            if apiserver.NAME in self.procs
            else None,
        }
        assert self.workdir is not None
        (self.workdir / "state.json").write_text(json.dumps(state, indent=2) + "\n")


def _named_log(log: Callable[[str], None], name: str, msg: str) -> None:
    log(f"{name}: {msg}")
