"""A MultiKueue testbed: a manager control plane that queues workloads and worker control
planes that run them, each a ControlPlane of its own (API server, controllers, JobSet, Kueue).

- the manager runs Kueue with MultiKueue configured, the JobSet controller (it skips JobSets
  whose `spec.managedBy` is `kueue.x-k8s.io/multikueue`) and KubeRay's CRDs but no operator: it
  only queues and dispatches; it has no nodes.
- each worker runs Kueue, KubeRay and kwok nodes; a test adds the node agent where it wants
  pods to really run.
- the manager reaches a worker with a kubeconfig the way MultiKueue accepts it (Kueue v0.19's
  validateKubeconfig): CA and client certificate inline (`*-data`), no token file, no insecure
  TLS, server https://127.0.0.1:<port>. It is the Secret `<worker>` in kueue-system, key
  `kubeconfig`; the identity is the user `multikueue-manager`, bound to cluster-admin.
- `shared_etcd=True` runs one etcd (the manager's) and gives each worker's API server its own
  key prefix (`--etcd-prefix=/<worker>`) instead of an etcd per plane.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from .cluster import ControlPlane
from .common import log_line
from .kueue import NAMESPACE as KUEUE_NAMESPACE
from .pki import write_kubeconfig

WORKERS = ("worker-a", "worker-b")
MANAGER_COMPONENTS = ("kuberay-crds", "kueue")
WORKER_COMPONENTS = ("kuberay", "kueue")
MANAGER_USER = "multikueue-manager"
SECRET_KEY = "kubeconfig"  # kueue.MultiKueueConfigSecretKey
#: the manager's Kueue: MultiKueue on (it is Beta and on by default in v0.19; said anyway),
#: its garbage collector often enough for tests that delete their jobs
MANAGER_KUEUE = {
    "featureGates": {"MultiKueue": True},
    "multiKueue": {"gcInterval": "30s", "origin": "testbed-manager", "workerLostTimeout": "5m"},
}


class MultiKueuePlanes:
    """`manager` and `workers` (name -> ControlPlane); `start()`, `stop()`."""

    def __init__(
        self,
        workers: Iterable[str] = WORKERS,
        worker_nodes: int = 2,
        shared_etcd: bool = False,
        keep_workdir: bool = False,
        detached: bool = False,
        workdir: Path | None = None,
        log: Callable[[str], None] = log_line,
    ):
        self.shared_etcd = shared_etcd
        self.timings: dict[str, float] = {}
        self._holders: list[_Holder] = []
        plane = partial(ControlPlane, keep_workdir=keep_workdir, detached=detached, log=log)
        self.manager = plane(
            name="manager",
            workdir=workdir / "manager" if workdir else None,
            nodes=0,
            components=MANAGER_COMPONENTS,
            component_config={"kueue": MANAGER_KUEUE},
        )
        self.workers = {
            name: plane(
                name=name,
                workdir=workdir / name if workdir else None,
                nodes=worker_nodes,
                components=WORKER_COMPONENTS,
                etcd_of=self.manager if shared_etcd else None,
            )
            for name in workers
        }

    @property
    def planes(self) -> list[ControlPlane]:
        return [self.manager, *self.workers.values()]

    def required_binaries(self) -> list[str]:
        return sorted({b for p in self.planes for b in p.required_binaries()})

    def start(self) -> MultiKueuePlanes:
        """All planes at once (the manager first when the workers use its etcd): the API
        servers spend most of a start-up establishing CRDs, which overlaps well."""
        t0 = time.monotonic()
        try:
            if self.shared_etcd:
                self._start_together([self.manager])
                self._start_together(list(self.workers.values()))
            else:
                self._start_together(self.planes)
            for name, worker in self.workers.items():
                self.give_manager_access(name, worker)
        except BaseException:
            self.stop()
            raise
        self.timings.update({p.name: p.timings["total"] for p in self.planes})
        self.timings["total"] = time.monotonic() - t0
        return self

    def _start_together(self, planes: list[ControlPlane]) -> None:
        holders = [_Holder(plane) for plane in planes]
        self._holders.extend(holders)
        for holder in holders:
            holder.start()
        for holder in holders:
            holder.started.wait()
        errors = [h.error for h in holders if h.error is not None]
        if errors:
            raise errors[0]

    def stop(self) -> None:
        # the workers first: with a shared etcd, the manager's holds their data
        for plane in reversed(self.planes):
            plane.stop()
        for holder in self._holders:
            holder.release.set()
        self._holders.clear()

    def give_manager_access(self, name: str, worker: ControlPlane) -> None:
        """The Secret `name` in kueue-system on the manager: a kubeconfig for `worker` with a
        client certificate of its own CA, for a user bound to cluster-admin there."""
        worker.pki.make_cert(MANAGER_USER, f"/CN={MANAGER_USER}", client=True)
        worker.kubectl(
            "create",
            "clusterrolebinding",
            MANAGER_USER,
            "--clusterrole=cluster-admin",
            f"--user={MANAGER_USER}",
        )
        kubeconfig = worker.path(f"{MANAGER_USER}.kubeconfig")
        write_kubeconfig(worker.pki, worker.port("apiserver"), kubeconfig, user=MANAGER_USER)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": KUEUE_NAMESPACE},
            "stringData": {SECRET_KEY: kubeconfig.read_text()},
        }
        self.manager.kubectl("apply", "--validate=false", "-f", "-", input=json.dumps(secret))

    def write_kubeconfig(self, path: Path) -> None:
        """One kubeconfig with a context per plane, named as the plane (`manager`, `worker-a`,
        …; the manager's is current): the worker contexts are what `compile status|watch|logs`
        look for first when they follow a job to its worker."""
        configs = [(p.name, json.loads(p.kubeconfig.read_text())) for p in self.planes]
        merged = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": n, "cluster": c["clusters"][0]["cluster"]} for n, c in configs],
            "users": [{"name": n, "user": c["users"][0]["user"]} for n, c in configs],
            "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n, _ in configs],
            "current-context": self.manager.name,
        }
        path.write_text(json.dumps(merged, indent=2) + "\n")
        path.chmod(0o600)

    def __enter__(self) -> MultiKueuePlanes:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Holder(threading.Thread):
    """Starts one plane, then stays alive until released: a process started with
    PR_SET_PDEATHSIG (process.py) dies when the *thread* that started it ends."""

    def __init__(self, plane: ControlPlane):
        super().__init__(name=f"start-{plane.name}", daemon=True)
        self.plane = plane
        self.started = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.plane.start()
        except BaseException as error:
            self.error = error
        finally:
            self.started.set()
        self.release.wait()
