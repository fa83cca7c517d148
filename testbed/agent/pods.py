"""One pod on the agent's node: its volumes, its containers as local processes, its status.

Each container runs as ``unshare --mount --uts --pid --fork --kill-child`` around a small
launcher script that, inside the new namespaces, bind-mounts the pod's volumes at their mount
paths (and the hosts and resolv.conf files over /etc/hosts and /etc/resolv.conf, unless the
whole run already sees them), sets the pod's hostname and execs the container's command. The
PID namespace means that killing the ``unshare`` process ends every process the container
started (torchrun's workers, Ray's daemons)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compiler.local.env import EnvError, PodContext, expand_command, resolve_env
from compiler.local.ray import adapt_ray_start, fixed_ports, move_ports
from compiler.local.sandbox import POD_NAMESPACES
from testbed.agent.kube import ApiError, Kube

#: container name -> seconds its image pull takes (JSON), a pod annotation tests set
PULL_SECONDS_ANNOTATION = "testbed.manifest-compiler/pull-seconds"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


class MountPoints:
    """Mount points that do not exist on the machine: made for the binds (the file system is
    shared by every pod), removed when the agent stops if still empty. Shared by the agent's
    pods: one pod ending must not take a mount point from another that is starting."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: list[Path] = []

    def ensure(self, target: Path, is_file: bool) -> None:
        with self.lock:
            missing = []
            p = target
            while not p.exists() and not p.is_symlink():
                missing.append(p)
                p = p.parent
            for i, path in enumerate(reversed(missing)):
                if is_file and i == len(missing) - 1:
                    path.touch()
                else:
                    path.mkdir()
                self.created.append(path)

    def remove(self) -> None:
        with self.lock:
            for path in reversed(self.created):
                with contextlib.suppress(OSError):
                    if path.is_dir():
                        path.rmdir()
                    elif path.stat().st_size == 0:
                        path.unlink()
            self.created.clear()


class PortClaims:
    """Fixed ports (KubeRay's) claimed by the agent's pods: the first pod keeps a port."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owners: dict[int, str] = {}

    def claim(self, port: int, owner: str) -> bool:
        with self.lock:
            return self.owners.setdefault(port, owner) == owner

    def release(self, owner: str) -> None:
        with self.lock:
            for port in [p for p, o in self.owners.items() if o == owner]:
                del self.owners[port]


@dataclass
class RuntimeConfig:
    """What every pod of the agent shares."""

    node_name: str
    host_ip: str
    venv: Path | None
    image_root: Path | None
    hosts_file: Path
    resolv_file: Path
    max_pod_seconds: float
    restart_delay: float = 1.0
    allocatable: Mapping[str, str] = field(default_factory=dict)
    mount_points: MountPoints = field(default_factory=MountPoints)
    ports: PortClaims = field(default_factory=PortClaims)


@dataclass
class ContainerRun:
    name: str
    spec: Mapping
    restarts: int = 0
    proc: subprocess.Popen | None = None
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    last_state: dict = field(default_factory=dict)
    log_path: Path | None = None
    done: bool = False  # will not run again
    env: dict[str, str] = field(default_factory=dict)
    moved: dict[int, int] = field(default_factory=dict)  # fixed ports this pod could not have
    ready: bool = False  # the readiness probe's last answer


OWN_CONDITIONS = (
    "PodScheduled",
    "PodReadyToStartContainers",
    "Initialized",
    "ContainersReady",
    "Ready",
)


class PodRunner:
    """Runs one pod in a thread until it ends or is killed."""

    def __init__(self, kube: Kube, pod: Mapping, ip: str, workdir: Path, cfg: RuntimeConfig):
        self.kube = kube
        self.pod = pod
        self.ip = ip
        self.dir = workdir
        self.cfg = cfg
        meta = pod["metadata"]
        self.namespace = meta["namespace"]
        self.name = meta["name"]
        self.uid = meta["uid"]
        self.spec = pod["spec"]
        self.policy = self.spec.get("restartPolicy", "Always")
        self.init = [ContainerRun(c["name"], c) for c in self.spec.get("initContainers") or []]
        self.main = [ContainerRun(c["name"], c) for c in self.spec.get("containers") or []]
        self.start_time = now()
        self.phase = "Pending"
        self.killed = threading.Event()
        self.finished = threading.Event()
        self.lock = threading.Lock()
        # conditions others put on the pod (the eviction API's DisruptionTarget): a merge patch
        # replaces the whole list, so every status the agent writes carries them on
        self.foreign_conditions: list[dict] = []
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)

    # -- public ------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def kill(self) -> None:
        self.killed.set()
        for run in self.init + self.main:
            self._stop(run)

    def keep_conditions(self, pod: Mapping) -> None:
        """Remember the conditions of ``pod`` (as the API server has it) that the agent does not
        write itself."""
        self.foreign_conditions = [
            dict(c)
            for c in (pod.get("status") or {}).get("conditions") or []
            if c.get("type") not in OWN_CONDITIONS
        ]

    def end_deleted(self) -> None:
        """The last status of a pod deleted while it ran, as the kubelet writes it (since
        Kubernetes 1.27 a deleted pod reaches a terminal phase before it goes, so that the Job
        controller can judge its failure): each running container terminated by the kill, the
        pod Failed, unless it had already ended."""
        self.kill()
        self.finished.wait(15)
        if self.phase in ("Succeeded", "Failed"):
            return
        for run in self.init + self.main:
            if run.proc is not None and run.exit_code is None:
                self._record_exit(run)
        self.phase = "Failed"
        self._patch_status()

    def container(self, name: str) -> ContainerRun | None:
        for run in self.init + self.main:
            if run.name == name:
                return run
        return None

    def log_file(self, container: str, previous: bool = False) -> Path | None:
        run = self.container(container)
        if run is None:
            return None
        n = run.restarts - 1 if previous else run.restarts
        path = self.dir / "logs" / f"{container}-{n}.log"
        return path if n >= 0 and path.exists() else None

    def container_running(self, container: str) -> bool:
        run = self.container(container)
        return run is not None and run.proc is not None and run.proc.poll() is None

    # -- lifecycle -----------------------------------------------------------

    def _run(self) -> None:
        try:
            self._lifecycle()
        except Exception as e:  # the agent must survive any pod
            self.phase = "Failed"
            for run in self.main:
                if run.exit_code is None:
                    run.exit_code, run.reason, run.message = 128, "StartError", str(e)
                    run.done = True
            self._patch_status()
        finally:
            self.kill()
            self.cfg.ports.release(self.uid)
            self.finished.set()

    def _lifecycle(self) -> None:
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        self.volumes = self._materialise_volumes()
        self._patch_status()
        if self.killed.wait(self._pull_seconds()):  # a slow image pull, if the pod asks for one
            return
        deadline = time.monotonic() + self.cfg.max_pod_seconds
        for run in self.init:
            while not self.killed.is_set():
                code = self._run_to_end(run, deadline)
                if code == 0:
                    run.done = True
                    break
                if self.policy == "Never" or time.monotonic() > deadline:
                    run.done = True
                    self.phase = "Failed"
                    self._patch_status()
                    return
                time.sleep(self.cfg.restart_delay)
        if self.killed.is_set():
            return
        for run in self.main:
            self._launch(run)
        self.phase = "Running"
        self._patch_status()
        threading.Thread(target=self._probe_loop, name=f"probe-{self.name}", daemon=True).start()
        while not self.killed.is_set():
            changed = False
            for run in self.main:
                if run.done or not self._exited(run):
                    continue
                if run.proc is not None:
                    self._record_exit(run)
                changed = True
                again = self.policy == "Always" or (
                    self.policy == "OnFailure" and run.exit_code != 0
                )
                if again and time.monotonic() < deadline:
                    self._patch_status()
                    time.sleep(self.cfg.restart_delay)
                    run.last_state = {"terminated": self._terminated(run)}
                    run.restarts += 1
                    run.exit_code = None
                    self._launch(run)
                else:
                    run.done = True
            if time.monotonic() > deadline:
                for run in self.main:
                    if not run.done:
                        self._stop(run)
                        self._record_exit(run, reason="DeadlineExceeded")
                        run.done = True
                changed = True
            if all(run.done for run in self.main):
                ok = all(run.exit_code == 0 for run in self.main)
                self.phase = "Succeeded" if ok else "Failed"
                self._patch_status()
                return
            if changed:
                self._patch_status()
            time.sleep(0.1)

    def _run_to_end(self, run: ContainerRun, deadline: float) -> int:
        self._launch(run)
        self._patch_status()
        while run.proc is not None and run.proc.poll() is None:
            if self.killed.is_set() or time.monotonic() > deadline:
                self._stop(run)
            time.sleep(0.1)
        if run.proc is not None:
            self._record_exit(run)
        self._patch_status()
        return run.exit_code if run.exit_code is not None else 128

    @staticmethod
    def _exited(run: ContainerRun) -> bool:
        if run.proc is None:
            return run.exit_code is not None  # could not start (CreateContainerConfigError)
        return run.proc.poll() is not None

    def _record_exit(self, run: ContainerRun, reason: str = "") -> None:
        code = run.proc.wait() if run.proc is not None else 128
        if code < 0:
            code = 128 - code
        run.exit_code = code
        run.finished_at = now()
        run.reason = reason or ("Completed" if code == 0 else "Error")

    def _stop(self, run: ContainerRun) -> None:
        proc = run.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    # -- one process -------------------------------------------------------------

    def _launch(self, run: ContainerRun) -> None:
        run.started_at = now()
        run.finished_at = None
        log = self.dir / "logs" / f"{run.name}-{run.restarts}.log"
        run.log_path = log
        try:
            env, argv = self._command(run)
        except EnvError as e:
            log.write_text(f"agent: {e}\n")
            run.proc = None
            run.exit_code, run.reason, run.message = 128, "CreateContainerConfigError", str(e)
            return
        run.env = env
        run.ready = False
        script = self._launcher(run, env["PATH"])
        argv = ["unshare", *POD_NAMESPACES, "/bin/sh", str(script), *argv]
        with open(log, "ab") as out:
            run.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _command(self, run: ContainerRun) -> tuple[dict[str, str], list[str]]:
        spec = run.spec
        context = PodContext(
            pod_ip=self.ip,
            host_ip=self.cfg.host_ip,
            node_name=self.cfg.node_name,
            node_allocatable=self.cfg.allocatable,
        )
        resolved = resolve_env(self.pod, spec, context, self._lookup)
        command, args = expand_command(spec, resolved)
        argv = command + args  # no image: there is no ENTRYPOINT/CMD to fall back on
        self._record(run, resolved, argv)
        for word in argv:
            for port in fixed_ports(word):
                if port not in run.moved and not self.cfg.ports.claim(port, self.uid):
                    run.moved[port] = free_port()
        argv = [adapt_ray_start(word, self.ip, run.moved) for word in argv]
        if not argv:
            raise EnvError("container has no command or args, and images are not run here")
        home = self.dir / "home"
        tmp = self.dir / "tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        if self.cfg.venv is not None:
            path = f"{self.cfg.venv / 'bin'}:{path}"
        # what an image and the runtime would give: PATH, HOME, HOSTNAME (plus TMPDIR, so
        # that nothing a pod writes lands in the shared /tmp)
        env = {
            "PATH": path,
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "HOSTNAME": self._hostname(),
            "LANG": "C.UTF-8",
        }
        env.update(resolved)
        return env, argv

    def _record(self, run: ContainerRun, env: Mapping[str, str], argv: list[str]) -> None:
        """What the kubelet gave the container (its environment in order, its expanded command
        line), for tests that compare it with `compile local`'s plan."""
        record = {
            "namespace": self.namespace,
            "pod": self.name,
            "ip": self.ip,
            "container": run.name,
            "restarts": run.restarts,
            "labels": (self.pod["metadata"].get("labels") or {}),
            "env": [[k, v] for k, v in env.items()],
            "argv": argv,
        }
        folder = self.dir / "env"
        folder.mkdir(exist_ok=True)
        # written whole, then renamed: a reader polling the folder never sees a half-written file
        partial = folder / f"{run.name}-{run.restarts}.json.partial"
        partial.write_text(json.dumps(record))
        partial.rename(folder / f"{run.name}-{run.restarts}.json")

    def _hostname(self) -> str:
        return self.spec.get("hostname") or self.name

    def _lookup(self, kind: str, namespace: str, name: str) -> Mapping[str, str] | None:
        plural = "secrets" if kind == "secret" else "configmaps"
        obj = self.kube.get_or_none(f"/api/v1/namespaces/{namespace}/{plural}/{name}")
        if obj is None:
            return None
        data = dict(obj.get("data") or {})
        if kind == "secret":
            return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}
        for k, v in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(v).decode("utf-8", "replace")
        return data

    def _launcher(self, run: ContainerRun, path: str) -> Path:
        q = shlex.quote
        lines = ["set -e"]
        lines.append(f"/bin/mount --bind {q(str(self.cfg.hosts_file))} /etc/hosts")
        lines.append(f"/bin/mount --bind {q(str(self.cfg.resolv_file))} /etc/resolv.conf")
        # a login shell (KubeRay runs `bash -lc`) would reset PATH from the machine's
        # /etc/profile; an image's profile keeps its own PATH: this one does too
        profile = self.dir / "profile"
        profile.write_text(f"export PATH={q(path)}\n")
        lines.append(f"/bin/mount --bind {q(str(profile))} /etc/profile")
        for mount in run.spec.get("volumeMounts") or []:
            source = self.volumes.get(mount["name"])
            if source is None:
                continue  # a PersistentVolumeClaim or another kind this node does not provide
            if mount.get("subPath"):
                source = source / mount["subPath"]
            target = Path(mount["mountPath"])
            self.cfg.mount_points.ensure(target, is_file=source.is_file())
            lines.append(f"/bin/mount --bind {q(str(source))} {q(str(target))}")
            if mount.get("readOnly"):
                lines.append(f"/bin/mount -o remount,bind,ro {q(str(target))}")
        lines.append(f"/bin/hostname {q(self._hostname())}")
        lines.append(f"cd {q(str(self._workdir(run.spec)))}")
        lines.append('exec "$@"')
        script = self.dir / f"launch-{run.name}.sh"
        script.write_text("\n".join(lines) + "\n")
        return script

    def _workdir(self, spec: Mapping) -> Path:
        """The container's workingDir, else the image's stand-in directory: <image root>/<image
        name without registry, tag or digest>, when it exists; else the image root."""
        if spec.get("workingDir"):
            return Path(spec["workingDir"])
        if self.cfg.image_root is None:
            return self.dir
        image = spec.get("image", "").split("@")[0].rsplit("/", 1)[-1].split(":")[0]
        candidate = self.cfg.image_root / image
        return candidate if candidate.is_dir() else self.cfg.image_root

    # -- volumes -------------------------------------------------------------

    def _materialise_volumes(self) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for vol in self.spec.get("volumes") or []:
            path = self.dir / "volumes" / vol["name"]
            if "emptyDir" in vol:
                path.mkdir(parents=True, exist_ok=True)
            elif "secret" in vol or "configMap" in vol:
                kind = "secret" if "secret" in vol else "configmap"
                src = vol.get("secret") or vol.get("configMap") or {}
                name = src.get("secretName") or src.get("name") or ""
                data = self._lookup(kind, self.namespace, name)
                if data is None and not src.get("optional"):
                    raise EnvError(f'{kind} "{name}" not found (volume {vol["name"]})')
                self._write_items(path, data or {}, src.get("items"))
            elif "projected" in vol:
                path.mkdir(parents=True, exist_ok=True)
                for source in vol["projected"].get("sources") or []:
                    self._project(path, source)
            elif "downwardAPI" in vol:
                path.mkdir(parents=True, exist_ok=True)
                self._project(path, {"downwardAPI": vol["downwardAPI"]})
            else:
                continue
            out[vol["name"]] = path
        return out

    def _write_items(self, path: Path, data: Mapping[str, str], items: list | None) -> None:
        path.mkdir(parents=True, exist_ok=True)
        chosen = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]
        for key, rel in chosen:
            if key in data:
                target = path / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(data[key])

    def _project(self, path: Path, source: Mapping) -> None:
        if "configMap" in source or "secret" in source:
            kind = "secret" if "secret" in source else "configmap"
            src = source.get(kind if kind == "secret" else "configMap") or {}
            data = self._lookup(kind, self.namespace, src.get("name", "")) or {}
            self._write_items(path, data, src.get("items"))
        elif "downwardAPI" in source:
            from compiler.local.env import field_value

            context = PodContext(self.ip, self.cfg.host_ip, self.cfg.node_name, {})
            for item in source["downwardAPI"].get("items") or []:
                ref = item.get("fieldRef")
                if ref:
                    value = field_value(self.pod, ref["fieldPath"], context)
                    (path / item["path"]).write_text(value)
        elif "serviceAccountToken" in source:
            sa = self.spec.get("serviceAccountName") or "default"
            try:
                token = self.kube.request(
                    "POST",
                    f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{sa}/token",
                    {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
                )["status"]["token"]
            except (ApiError, KeyError):
                token = ""
            (path / source["serviceAccountToken"].get("path", "token")).write_text(token)

    # -- readiness ---------------------------------------------------------

    @staticmethod
    def _is_ready(run: ContainerRun) -> bool:
        return run.ready or not run.spec.get("readinessProbe")

    def _probe_loop(self) -> None:
        """Readiness probes (exec, httpGet, tcpSocket) as the kubelet runs them; liveness and
        startup probes are not run."""
        due: dict[str, float] = {}
        started = time.monotonic()
        while not self.killed.is_set() and not self.finished.is_set():
            for run in self.main:
                probe = run.spec.get("readinessProbe")
                if not probe or run.proc is None or run.proc.poll() is not None:
                    continue
                first = started + float(probe.get("initialDelaySeconds", 0))
                if time.monotonic() < max(first, due.get(run.name, 0.0)):
                    continue
                due[run.name] = time.monotonic() + float(probe.get("periodSeconds", 10))
                ok = self._probe(run, probe)
                if ok != run.ready:
                    run.ready = ok
                    self._patch_status()
            self.killed.wait(0.5)

    def _probe(self, run: ContainerRun, probe: Mapping) -> bool:
        timeout = float(probe.get("timeoutSeconds", 1))
        try:
            if "exec" in probe:
                argv = [move_ports(w, run.moved) for w in probe["exec"].get("command") or []]
                done = subprocess.run(
                    argv,
                    env=run.env,
                    cwd=self._workdir(run.spec),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=timeout,
                )
                return done.returncode == 0
            target = probe.get("httpGet") or probe.get("tcpSocket")
            if target is None:
                return True
            port = self._port(run, target["port"])
            host = target.get("host") or self.ip
            if "tcpSocket" in probe:
                with socket.create_connection((host, port), timeout=timeout):
                    return True
            url = f"http://{host}:{port}{target.get('path', '/')}"
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return 200 <= resp.status < 400
        except (OSError, subprocess.SubprocessError, ValueError):
            return False

    def _port(self, run: ContainerRun, port: int | str) -> int:
        if isinstance(port, int) or str(port).isdigit():
            number = int(port)
        else:
            named = [p for p in run.spec.get("ports") or [] if p.get("name") == port]
            number = int(named[0]["containerPort"]) if named else 0
        return run.moved.get(number, number)

    # -- status -------------------------------------------------------------

    def _terminated(self, run: ContainerRun) -> dict:
        out = {
            "exitCode": run.exit_code if run.exit_code is not None else 128,
            "reason": run.reason or "Error",
            "startedAt": run.started_at,
            "finishedAt": run.finished_at or now(),
            "containerID": f"agent://{self.uid}/{run.name}/{run.restarts}",
        }
        if run.message:
            out["message"] = run.message
        return out

    def _pull_seconds(self) -> float:
        """How long this pod's image pulls take: the annotation PULL_SECONDS_ANNOTATION maps a
        container name to seconds (JSON), so a test can start one pod of a group late, as a
        slow image pull would; the pod stays Pending (ContainerCreating) meanwhile."""
        text = (self.pod["metadata"].get("annotations") or {}).get(PULL_SECONDS_ANNOTATION)
        if not text:
            return 0.0
        try:
            seconds = json.loads(text)
        except ValueError:
            return 0.0
        if not isinstance(seconds, dict):
            return 0.0
        names = {run.name for run in self.init + self.main}
        return max(
            (float(v) for k, v in seconds.items() if k in names and isinstance(v, int | float)),
            default=0.0,
        )

    def _container_status(self, run: ContainerRun) -> dict:
        if run.exit_code is not None:
            state = {"terminated": self._terminated(run)}
        elif run.proc is not None and run.proc.poll() is None:
            state = {"running": {"startedAt": run.started_at}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        running = "running" in state
        status = {
            "name": run.name,
            "image": run.spec.get("image", ""),
            "imageID": "",
            "ready": running and self._is_ready(run),
            "started": running,
            "restartCount": run.restarts,
            "state": state,
            "lastState": run.last_state,
        }
        if run.started_at is not None:
            status["containerID"] = f"agent://{self.uid}/{run.name}/{run.restarts}"
        return status

    def status(self) -> dict:
        ready = self.phase == "Running" and all(
            r.proc is not None and r.proc.poll() is None and self._is_ready(r) for r in self.main
        )
        initialized = all(r.done and r.exit_code == 0 for r in self.init)
        stamp = now()

        def cond(kind: str, ok: bool) -> dict:
            return {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": stamp}

        return {
            "phase": self.phase,
            "hostIP": self.cfg.host_ip,
            "hostIPs": [{"ip": self.cfg.host_ip}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.start_time,
            "conditions": [
                cond("PodScheduled", True),
                cond("PodReadyToStartContainers", True),
                cond("Initialized", initialized),
                cond("ContainersReady", ready),
                cond("Ready", ready),
                *self.foreign_conditions,
            ],
            "initContainerStatuses": [self._container_status(r) for r in self.init],
            "containerStatuses": [self._container_status(r) for r in self.main],
        }

    def _patch_status(self) -> None:
        with self.lock:
            body = {"metadata": {"uid": self.uid}, "status": self.status()}
            path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status"
            for _ in range(5):
                try:
                    self.kube.merge_patch(path, body)
                    return
                except ApiError as e:
                    if e.code in (404, 409, 422):
                        return  # gone, or replaced by a pod of the same name
                except OSError:
                    pass
                time.sleep(0.5)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


Callback = Callable[[], None]
