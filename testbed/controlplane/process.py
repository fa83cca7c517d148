"""Child processes: one process group each, killed as a group, dying with their parent."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from .common import ControlPlaneError


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
                f"{self.name} exited with code {self.popen.returncode}; "
                f"last log lines:\n{self.tail()}"
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
        kill_group(self.pid, grace, self.popen)
        self.popen = None
        self.pid = None


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int, grace: float, popen: subprocess.Popen | None = None) -> None:
    """SIGTERM the process group, wait up to `grace` s, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()  # reap our child so the group can disappear
        if not group_alive(pgid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        for _ in range(100):
            if popen is not None:
                popen.poll()
            if not group_alive(pgid):
                break
            time.sleep(0.05)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=5)


def in_private_mounts(
    argv: list[str],
    binds: list[tuple[Path, str]] = (),  # type: ignore[assignment]
    etc_overlay: tuple[Path, Path] | None = None,
) -> list[str]:
    """`argv` run in a mount namespace of its own (`unshare -m`, private propagation):
    `etc_overlay=(upper, work)` lays `upper` over /etc (files the program insists on
    finding there), then each (source, target) of `binds` is bind-mounted, e.g. the
    testbed's hosts file over /etc/hosts. The host's mounts never change. Needs root,
    or a kernel that allows unprivileged user namespaces (then `unshare -r` is used)."""
    lines = ["set -e"]
    if etc_overlay is not None:
        upper, work = etc_overlay
        lines.append(
            "mount -t overlay overlay -o "
            + shlex.quote(f"lowerdir=/etc,upperdir={upper},workdir={work}")
            + " /etc"
        )
    for source, target in binds:
        lines.append(f"mount --bind {shlex.quote(str(source))} {shlex.quote(target)}")
    lines.append('exec "$@"')
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        unshare.append("--map-root-user")
    return [*unshare, "--", "/bin/sh", "-c", "\n".join(lines), "sh", *argv]
