"""``compile local``'s runner: a plan's pods as processes on this machine (the imperative shell of
compiler.local; the plan itself is pure, see pods.py and plan.py).

Pods start in the plan's order, each once the pods it starts after are Ready and its group
(a Job) has room under its parallelism. Every container's output is copied to stdout line by
line, prefixed with its pod's name. A pod that fails is retried, or restarts its whole workload,
or fails the workload, as the workload's failure policy says; the first workload that fails
stops every pod of the run and its code is the run's. Ctrl-C, SIGTERM and the end of the run kill
every process group, and then every process still carrying the run's TMPDIR (a daemon that left
its group): nothing of a run outlives it."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from . import ray, sandbox
from .pods import LocalContainer, LocalPod, LocalWorkload, Plan, Readiness

POLL_SECONDS = 0.05
PROBE_SECONDS = 0.5  # until Ready: a pod waiting on another should start soon after it is
RESTART_SECONDS = 1.0  # the kubelet's first back-off step
FAILED_TO_START = 128  # what the kubelet reports for a container that could not start
DEADLINE_EXCEEDED = 1

_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _LIBC.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: a killed runner takes its pods


class Terminated(Exception):
    """SIGTERM reached the runner."""


@dataclass
class Settings:
    """What the run takes from its caller: where pods run, in which environment, where their
    output goes, and whether containers get namespaces of their own."""

    cwd: Path
    environ: Mapping[str, str]
    namespaces: bool
    out: IO[bytes]
    say: Callable[[str], None]


@dataclass
class Running:
    container: LocalContainer
    proc: subprocess.Popen
    reader: threading.Thread
    ready: bool = False
    next_probe: float = 0.0
    restart_at: float | None = None  # exited: started again then (the kubelet's back-off)


@dataclass
class PodRun:
    pod: LocalPod
    index: int
    service: bool
    state: str = "waiting"  # waiting, init, running, succeeded, failed
    init_done: int = 0
    running: list[Running] = field(default_factory=list)
    restart_at: float = 0.0
    code: int | None = None
    moved: dict[int, int] = field(default_factory=dict)  # KubeRay's fixed ports taken already


@dataclass
class WorkloadRun:
    workload: LocalWorkload
    pods: list[PodRun]
    started: float
    failures: int = 0
    code: int | None = None
    reason: str = ""


class Runner:
    def __init__(self, plan: Plan, settings: Settings):
        self.plan = plan
        self.settings = settings
        self.run_dir = Path(tempfile.mkdtemp(prefix="mcl-"))
        self.output_lock = threading.Lock()
        self.created_mount_points: list[Path] = []
        self.port_owners: dict[int, str] = {}
        self.group_failures: dict[str, int] = {}
        self.group_limits = {g.name: g.backoff_limit for g in plan.groups}
        services = {g.name for g in plan.groups if g.service}
        self.pods = [PodRun(p, i, p.group in services) for i, p in enumerate(plan.pods)]
        self.by_name = {run.pod.name: run for run in self.pods}
        parallelism = {g.name: g.parallelism for g in plan.groups}
        self.parallelism = {run.pod.name: parallelism.get(run.pod.group) for run in self.pods}
        self.workloads: list[WorkloadRun] = []
        now = time.monotonic()
        for workload in plan.workloads:
            members = [run for run in self.pods if self._workload_of(run) == workload.name]
            self.workloads.append(WorkloadRun(workload, members, now))

    def _workload_of(self, run: PodRun) -> str:
        return next((g.workload for g in self.plan.groups if g.name == run.pod.group), "")

    # -- the run -------------------------------------------------------------------------

    def run(self) -> int:
        """Run every workload to its end; the run's exit code."""
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            self._prepare()
            return self._loop()
        except Terminated:
            self.settings.say("terminated: stopping every pod")
            return 128 + signal.SIGTERM
        finally:
            interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C waits
            try:
                self._stop_everything()
            finally:
                signal.signal(signal.SIGINT, interrupt)
                signal.signal(signal.SIGTERM, previous)

    def _loop(self) -> int:
        while True:
            for workload in self.workloads:
                if workload.code is None:
                    self._step_workload(workload)
                if workload.code not in (None, 0):
                    self.settings.say(f"{workload.workload.name} failed: {workload.reason}")
                    return workload.code
            if all(w.code == 0 for w in self.workloads):
                for workload in self.workloads:
                    self.settings.say(f"{workload.workload.name} succeeded")
                return 0
            time.sleep(POLL_SECONDS)

    def _step_workload(self, workload: WorkloadRun) -> None:
        deadline = workload.workload.failure.active_deadline_seconds
        if deadline is not None and time.monotonic() - workload.started > deadline:
            workload.code = DEADLINE_EXCEEDED
            workload.reason = f"DeadlineExceeded: still running after {deadline}s"
            return
        for run in workload.pods:
            self._step_pod(run, workload)
            if workload.code is not None:
                return
        finished = [run for run in workload.pods if not run.service]
        if (finished or not workload.pods) and all(run.state == "succeeded" for run in finished):
            workload.code = 0
            for run in workload.pods:
                self._stop_pod(run)

    # -- one pod -------------------------------------------------------------------------

    def _step_pod(self, run: PodRun, workload: WorkloadRun) -> None:
        if run.state == "waiting" and self._may_start(run):
            self._advance(run)
        elif run.state == "init":
            self._step_init(run, workload)
        elif run.state == "running":
            self._step_running(run, workload)

    def _may_start(self, run: PodRun) -> bool:
        if time.monotonic() < run.restart_at:
            return False
        limit = self.parallelism[run.pod.name]
        if limit is not None:
            busy = sum(
                other.state in ("init", "running")
                for other in self.pods
                if other.pod.group == run.pod.group
            )
            if busy >= limit:
                return False
        return all(self._is_ready(self.by_name[name]) for name in run.pod.start_after)

    def _advance(self, run: PodRun) -> None:
        """Start the pod's next init container, else its containers."""
        if run.init_done < len(run.pod.init_containers):
            run.state = "init"
            run.running = [self._launch(run, run.pod.init_containers[run.init_done])]
            return
        run.state = "running"
        run.running = [self._launch(run, container) for container in run.pod.containers]

    def _step_init(self, run: PodRun, workload: WorkloadRun) -> None:
        [current] = run.running
        code = current.proc.poll()
        if code is None:
            return
        current.reader.join(timeout=1)
        if code == 0:
            run.init_done += 1
            self._advance(run)
        else:
            self._pod_failed(run, workload, _exit_code(code))

    def _step_running(self, run: PodRun, workload: WorkloadRun) -> None:
        codes = [r.proc.poll() for r in run.running]
        if run.service or run.pod.restart_policy == "Always":
            for i, code in enumerate(codes):
                if (
                    code is not None
                ):  # a long-running pod's container exits: the kubelet restarts it
                    self._restart_later(run, i, code)
            self._probe(run)
            return
        if any(code is None for code in codes):
            self._probe(run)
            return
        for r in run.running:
            r.reader.join(timeout=1)
        failed = [_exit_code(c) for c in codes if c]
        if failed:
            self._pod_failed(run, workload, failed[0])
        else:
            run.state, run.code = "succeeded", 0

    def _restart_later(self, run: PodRun, i: int, code: int) -> None:
        current = run.running[i]
        if current.restart_at is None:
            current.reader.join(timeout=1)
            name = current.container.name
            self.settings.say(f"{run.pod.name}: container {name} exited with {_exit_code(code)}")
            current.restart_at = time.monotonic() + RESTART_SECONDS
        elif time.monotonic() >= current.restart_at:
            run.running[i] = self._launch(run, current.container)

    def _pod_failed(self, run: PodRun, workload: WorkloadRun, code: int) -> None:
        self._stop_pod(run)
        run.state, run.code = "failed", code
        policy = workload.workload.failure
        reason = f"pod {run.pod.name} exited with {code}"
        if self._retried_by_its_job(run, reason):
            return
        if code in policy.fail_on_exit_codes or workload.failures >= policy.backoff_limit:
            workload.code, workload.reason = code, reason
            return
        workload.failures += 1
        retried = workload.pods if policy.scope == "workload" else [run]
        self.settings.say(
            f"{reason}: restarting {_count(retried)} ({workload.failures} of "
            f"{policy.backoff_limit} restarts)"
        )
        for other in retried:
            self._stop_pod(other)
            other.state, other.init_done, other.code = "waiting", 0, None
            other.restart_at = time.monotonic() + RESTART_SECONDS

    def _retried_by_its_job(self, run: PodRun, reason: str) -> bool:
        """A Job with a backoff limit of its own (KubeRay's submitter) retries its pod before
        its failure reaches the workload's policy."""
        limit = self.group_limits.get(run.pod.group)
        failures = self.group_failures.get(run.pod.group, 0)
        if limit is None or failures >= limit:
            return False
        self.group_failures[run.pod.group] = failures + 1
        self.settings.say(f"{reason}: retrying it ({failures + 1} of {limit} retries)")
        run.state, run.init_done, run.code = "waiting", 0, None
        run.restart_at = time.monotonic() + RESTART_SECONDS
        return True

    # -- readiness ---------------------------------------------------------------------

    def _is_ready(self, run: PodRun) -> bool:
        if run.state == "succeeded":
            return True
        return run.state == "running" and all(
            r.ready or r.container.readiness is None for r in run.running
        )

    def _probe(self, run: PodRun) -> None:
        now = time.monotonic()
        for r in run.running:
            probe = r.container.readiness
            if probe is None or r.ready or now < r.next_probe or r.proc.poll() is not None:
                continue
            r.next_probe = now + PROBE_SECONDS
            r.ready = self._passes(run, r, probe)

    def _passes(self, run: PodRun, r: Running, probe: Readiness) -> bool:
        try:
            if probe.exec_argv:
                env = sandbox.container_environment(
                    self.settings.environ, run.pod, r.container, self._tmp_dir(run)
                )
                done = subprocess.run(
                    [ray.move_ports(word, run.moved) for word in probe.exec_argv],
                    env=env,
                    cwd=self.settings.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=5,
                    check=False,
                )
                return done.returncode == 0
            if probe.tcp_port is not None:
                port = run.moved.get(probe.tcp_port, probe.tcp_port)
                with socket.create_connection((run.pod.ip, port), timeout=1):
                    return True
            if probe.http_port is not None:
                port = run.moved.get(probe.http_port, probe.http_port)
                url = f"http://{run.pod.ip}:{port}{probe.http_path}"
                with urllib.request.urlopen(url, timeout=1) as response:
                    return 200 <= response.status < 400
        except (OSError, subprocess.SubprocessError, ValueError):
            return False
        return True

    # -- processes -----------------------------------------------------------------------

    def _tmp_dir(self, run: PodRun) -> Path:
        return self.run_dir / "t" / str(run.index)

    def _launch(self, run: PodRun, container: LocalContainer) -> Running:
        tmp = self._tmp_dir(run)
        tmp.mkdir(parents=True, exist_ok=True)
        env = sandbox.container_environment(self.settings.environ, run.pod, container, tmp)
        argv = self._ray_adapted(run, container.argv)
        if self.settings.namespaces:
            argv = [*sandbox.NAMESPACES, "/bin/sh", str(self._launcher(run, container)), *argv]
        try:
            proc = subprocess.Popen(
                argv,
                cwd=self.settings.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except (OSError, IndexError) as e:
            # as the kubelet reports a container it cannot start: its reason, exit code 128
            why = f"container {container.name} cannot start: {e or 'no command'}"
            proc = subprocess.Popen(
                ["/bin/sh", "-c", f'echo "$1"; exit {FAILED_TO_START}', "sh", why],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        reader = threading.Thread(
            target=self._copy_output, args=(run.pod.name, proc.stdout), daemon=True
        )
        reader.start()
        return Running(container, proc, reader)

    def _ray_adapted(self, run: PodRun, argv: tuple[str, ...]) -> list[str]:
        """Pods share this machine's network: each `ray start` gets its pod's IP as the node
        address, and a fixed port KubeRay gives every node stays with the first pod that asks
        for it (the others get free ones, their probes follow)."""
        for word in argv:
            for port in ray.fixed_ports(word):
                owner = self.port_owners.setdefault(port, run.pod.name)
                if owner != run.pod.name and port not in run.moved:
                    run.moved[port] = _free_port()
        return [ray.adapt_ray_start(word, run.pod.ip, run.moved) for word in argv]

    def _launcher(self, run: PodRun, container: LocalContainer) -> Path:
        pod_dir = self.run_dir / "l" / str(run.index)
        pod_dir.mkdir(parents=True, exist_ok=True)
        profile = pod_dir / "profile"
        path = self.settings.environ.get("PATH", os.defpath)
        profile.write_text(f"export PATH={shlex.quote(path)}\n")
        script = pod_dir / f"{container.name}.sh"
        script.write_text(
            sandbox.launcher_script(
                run.pod,
                container,
                self.run_dir,
                self.run_dir / "hosts",
                profile,
                self.settings.cwd,
            )
        )
        return script

    def _copy_output(self, pod_name: str, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        prefix = f"{pod_name} | ".encode()
        out = self.settings.out
        with stream:
            for line in stream:
                if not line.endswith(b"\n"):
                    line += b"\n"
                with self.output_lock, contextlib.suppress(OSError, ValueError):
                    out.write(prefix + line)
                    out.flush()

    def _stop_pod(self, run: PodRun) -> None:
        for r in run.running:
            _kill_group(r.proc)
        kill_marked(f"TMPDIR={self._tmp_dir(run)}\0".encode())  # daemons holding its output
        for r in run.running:
            r.reader.join(timeout=2)
        run.running = []

    def _stop_everything(self) -> None:
        for run in self.pods:
            self._stop_pod(run)
        kill_marked(f"TMPDIR={self.run_dir}/".encode())
        for path in reversed(self.created_mount_points):
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() else path.unlink()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    # -- before the first pod --------------------------------------------------------------

    def _prepare(self) -> None:
        for run in self.pods:
            for volume in run.pod.volumes:
                folder = self.run_dir / volume.local_dir
                folder.mkdir(parents=True, exist_ok=True)
                for relative, text in volume.files:
                    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                    (folder / relative).write_text(text)
        if not self.settings.namespaces:
            return
        machine_hosts = _read_text(Path("/etc/hosts"))
        hosts = sandbox.hosts_text(machine_hosts, self.plan.pods)
        (self.run_dir / "hosts").write_text(hosts)
        self._make_mount_points()

    def _make_mount_points(self) -> None:
        """Mount paths that do not exist on this machine are made for the binds (and removed
        at the end); where this user may not make one, that volume is not mounted."""
        refused: list[str] = []
        for run in self.pods:
            for volume in run.pod.volumes:
                target = Path(volume.mount_path)
                if target.exists() or volume.mount_path in refused:
                    continue
                is_file = sandbox.volume_source(self.run_dir, volume).is_file()
                try:
                    self.created_mount_points += _make_path(target, is_file)
                except OSError:
                    refused.append(volume.mount_path)
        if refused:
            self.settings.say(
                f"note: volumes at {', '.join(refused)} are not mounted: this user cannot make "
                "those paths on this machine"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def _exit_code(code: int) -> int:
    """A process killed by signal N exits 128+N, as the kubelet reports it."""
    return 128 - code if code < 0 else code


def _count(runs: list[PodRun]) -> str:
    return "1 pod" if len(runs) == 1 else f"{len(runs)} pods"


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return "127.0.0.1\tlocalhost\n"


def _make_path(target: Path, is_file: bool) -> list[Path]:
    """Make `target` and its missing parents; the paths made, outermost first."""
    missing = []
    path = target
    while not path.exists() and not path.is_symlink():
        missing.append(path)
        path = path.parent
    made: list[Path] = []
    for i, path in enumerate(reversed(missing)):
        if is_file and i == len(missing) - 1:
            path.touch()
        else:
            path.mkdir()
        made.append(path)
    return made


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def kill_marked(marker: bytes) -> list[int]:
    """SIGKILL every process whose environment holds `marker` (a pod's TMPDIR): a daemon that
    left its pod's process group (``setsid``) is found by what it inherited. The PIDs killed."""
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except OSError:
            continue
    return killed


def run_plan(plan: Plan, cwd: Path, environ: Mapping[str, str], namespaces: bool) -> int:
    """Run `plan`'s pods here, output on stdout, the runner's own lines on stderr; its code."""

    def say(text: str) -> None:
        print(f"local: {text}", file=sys.stderr, flush=True)

    settings = Settings(cwd, environ, namespaces, sys.stdout.buffer, say)
    return Runner(plan, settings).run()
