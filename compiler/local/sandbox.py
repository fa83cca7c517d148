"""What a pod's processes see of the machine under ``compile local``: the namespaces this machine
lets an unprivileged user make, the hosts file that makes the pods' cluster DNS names resolve, the
launcher that sets up one container inside its namespaces, and the environment an image and the
runtime would add to the kubelet's.

Each container runs as ``unshare --user --map-root-user --mount --uts --pid --fork --kill-child``
around a small shell launcher that bind-mounts the run's hosts file over /etc/hosts and the pod's
volumes at their mount paths, sets the pod's hostname and execs the container's argv. Killing the
``unshare`` process ends the whole PID namespace, daemons included (Ray's). Every pod shares the
machine's network: its planned loopback IP is reachable because Linux routes all of 127.0.0.0/8 to
``lo``. Without user namespaces the same argv runs as a plain process group (see FALLBACK_NOTE)."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from .pods import LocalContainer, LocalPod, LocalVolume

#: a pod's own mount, UTS and PID namespaces: killing the ``unshare`` process ends them all (the
#: testbed's node agent, which runs as root, uses these without the user namespace)
POD_NAMESPACES = (
    "--mount",
    "--uts",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "--propagation",
    "private",
)
NAMESPACES = ("unshare", "--user", "--map-root-user", *POD_NAMESPACES)

#: what differs when this machine gives no unprivileged namespaces (one line, on stderr)
FALLBACK_NOTE = (
    "note: no user namespaces here ({reason}): pods run as plain processes; their cluster DNS "
    "names do not resolve, they share this machine's hostname and volumes are local folders "
    "not mounted at their paths"
)

BEGIN = "# compile local: pods (begin)"
END = "# compile local (end)"


def namespaces_refused() -> str | None:
    """None when this machine lets this user run a container's launcher in namespaces of its
    own (user, mount, UTS, PID; a bind mount and a hostname inside); else why not."""
    probe = "mount --bind /etc/hosts /etc/hosts && hostname probe"
    try:
        done = subprocess.run(
            [*NAMESPACES, "/bin/sh", "-c", probe],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"unshare exited with {done.returncode}"
    return None


def hosts_text(machine_hosts: str, pods: Iterable[LocalPod]) -> str:
    """The machine's hosts file with every pod's DNS names pointing at its planned IP."""
    lines = [f"{pod.ip}\t{' '.join(pod.dns_names)}" for pod in pods if pod.dns_names]
    kept = (
        machine_hosts if machine_hosts.endswith("\n") or not machine_hosts else machine_hosts + "\n"
    )
    return kept + "".join(line + "\n" for line in [BEGIN, *lines, END])


def volume_source(run_dir: Path, volume: LocalVolume) -> Path:
    source = run_dir / volume.local_dir
    return source / volume.sub_path if volume.sub_path else source


def launcher_script(
    pod: LocalPod,
    container: LocalContainer,
    run_dir: Path,
    hosts_file: Path,
    profile: Path,
    cwd: Path,
) -> str:
    """The shell lines that, inside the container's new namespaces, give it the pod's names,
    volumes and hostname, then exec its argv (passed as the script's arguments)."""
    q = shlex.quote
    lines = [
        "set -e",
        f"mount --bind {q(str(hosts_file))} /etc/hosts",
        # KubeRay runs `bash -lc`: the machine's /etc/profile would reset PATH, an image's keeps
        f"mount --bind {q(str(profile))} /etc/profile",
    ]
    for volume in pod.volumes:
        if volume.container != container.name or not Path(volume.mount_path).exists():
            continue
        target = q(volume.mount_path)
        lines.append(f"mount --bind {q(str(volume_source(run_dir, volume)))} {target}")
        if volume.read_only:
            lines.append(f"mount -o remount,bind,ro {target}")
    lines += [f"hostname {q(pod.hostname)}", f"cd {q(str(cwd))}", 'exec "$@"']
    return "\n".join(lines) + "\n"


def base_environment(machine: Mapping[str, str], pod: LocalPod, tmp_dir: Path) -> dict[str, str]:
    """What an image and the runtime add to the kubelet's variables: this environment's PATH
    (the current Python environment runs the pods), HOME, the pod's HOSTNAME, a TMPDIR of the
    pod's own (nothing a pod writes lands in the shared /tmp) and the locale."""
    env = {
        "PATH": machine.get("PATH", os.defpath),
        "HOSTNAME": pod.hostname,
        "TMPDIR": str(tmp_dir),
        "LANG": machine.get("LANG", "C.UTF-8"),
    }
    if "HOME" in machine:
        env["HOME"] = machine["HOME"]
    return env


def container_environment(
    machine: Mapping[str, str], pod: LocalPod, container: LocalContainer, tmp_dir: Path
) -> dict[str, str]:
    """The base environment, then the kubelet's variables as planned (they win)."""
    env = base_environment(machine, pod, tmp_dir)
    env.update(dict(container.env))
    return env
