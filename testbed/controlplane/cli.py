"""`python3 -m testbed.controlplane start|stop|status|env`: a testbed in the background."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .cluster import OPTIONAL_COMPONENTS, ControlPlane
from .common import build, cache_dir
from .kwok import Topology
from .multikueue import MultiKueuePlanes
from .process import group_alive, kill_group


def state_link() -> Path:
    return cache_dir() / "run" / "current.json"


def load_state() -> dict | None:
    link = state_link()
    if not link.exists():
        return None
    data = json.loads(link.read_text())
    # the workdir copy is authoritative (restart_apiserver rewrites it)
    wd_state = Path(data["workdir"]) / "state.json"
    if wd_state.exists():
        data = json.loads(wd_state.read_text())
    return data


def _print_env(kubeconfig: str, kubectl: str) -> None:
    print(f"export KUBECONFIG={kubeconfig}")
    print(f"alias kubectl={kubectl}")


def _topology(text: str) -> Topology:
    try:
        return Topology.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: want BxRxH, three counts of at least 1, e.g. 2x2x2"
        ) from None


def cmd_start(args: argparse.Namespace) -> int:
    if state_link().exists():
        print(f"a testbed is already recorded in {state_link()}; run `stop` first", file=sys.stderr)
        return 1
    if args.multikueue:
        return start_multikueue(args)
    components = [c for c in args.components.split(",") if c]
    if args.build:
        build(names=ControlPlane(components=components).required_binaries())
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="mc-testbed-"))
    cp = ControlPlane(
        workdir=workdir,
        nodes=args.nodes,
        keep_workdir=True,
        detached=True,
        components=components,
        topology=args.topology,
    )
    cp.start()
    state_link().parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(workdir / "state.json", state_link())
    _print_env(str(cp.kubeconfig), str(cp.kubectl_path))
    return 0


def start_multikueue(args: argparse.Namespace) -> int:
    """A MultiKueue manager and two workers (multikueue.py), recorded as one testbed: its
    state lists every plane's processes; its kubeconfig has a context per plane."""
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="mc-testbed-"))
    planes = MultiKueuePlanes(workdir=workdir, keep_workdir=True, detached=True)
    if args.build:
        build(names=planes.required_binaries())
    planes.start()
    kubeconfig = workdir / "kubeconfig"
    planes.write_kubeconfig(kubeconfig)
    state = {
        "workdir": str(workdir),
        "kubeconfig": str(kubeconfig),
        "server": planes.manager.server,
        "kubectl": str(planes.manager.kubectl_path),
        "pids": {f"{p.name}/{n}": proc.pid for p in planes.planes for n, proc in p.procs.items()},
    }
    (workdir / "state.json").write_text(json.dumps(state, indent=2) + "\n")
    state_link().parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(workdir / "state.json", state_link())
    _print_env(str(kubeconfig), str(planes.manager.kubectl_path))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    state = load_state()
    if state is None:
        print("no testbed recorded", file=sys.stderr)
        return 0
    for name, pid in reversed(list(state["pids"].items())):
        if pid:
            kill_group(int(pid), 3.0)
            print(f"stopped {name} (pgid {pid})", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(state["workdir"], ignore_errors=True)
    state_link().unlink(missing_ok=True)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    state = load_state()
    if state is None:
        print("no testbed running (python3 -m testbed.controlplane start)", file=sys.stderr)
        return 1
    _print_env(state["kubeconfig"], state["kubectl"])
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """One line per process (running or gone); exit 1 if none is recorded or one is gone."""
    state = load_state()
    if state is None:
        print("no testbed running", file=sys.stderr)
        return 1
    print(f"server {state['server']}  workdir {state['workdir']}")
    all_up = True
    for name, pid in state["pids"].items():
        up = bool(pid) and group_alive(int(pid))
        all_up &= up
        print(f"{name:28} {'running' if up else 'GONE'}  pid {pid}")
    return 0 if all_up else 1


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python3 -m testbed.controlplane",
        description="Start/stop the manifest-compiler test control plane.",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start it in the background and print `export KUBECONFIG=...`")
    s.add_argument("--workdir", help="data/log dir (default: a new temp dir)")
    s.add_argument("--nodes", type=int, default=4, help="number of kwok nodes (default 4)")
    s.add_argument(
        "--topology",
        metavar="BxRxH",
        type=_topology,
        help="also B blocks x R racks x H hosts of small kwok nodes labelled with their "
        "block, rack and host (e.g. 2x2x2; testbed/README.md)",
    )
    everything = ",".join(c for c in OPTIONAL_COMPONENTS if c != "kuberay-crds")  # in kuberay
    s.add_argument(
        "--components",
        default=everything,
        help=f"optional components to run, comma-separated (default: {everything}; '' for none)",
    )
    s.add_argument(
        "--multikueue",
        action="store_true",
        help="a MultiKueue manager and two workers (worker-a, worker-b) instead; contexts "
        "manager, worker-a, worker-b (--nodes and --components do not apply)",
    )
    s.add_argument(
        "--no-build",
        dest="build",
        action="store_false",
        help="fail instead of running testbed/build.sh when binaries are missing",
    )
    s.set_defaults(fn=cmd_start)
    p = sub.add_parser("stop", help="stop it and remove its data")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    p.set_defaults(fn=cmd_stop)
    e = sub.add_parser("env", help="print `export KUBECONFIG=...` for the running one")
    e.set_defaults(fn=cmd_env)
    st = sub.add_parser("status", help="which of its processes are running")
    st.set_defaults(fn=cmd_status)
    args = ap.parse_args(list(argv) if argv is not None else None)
    return args.fn(args)
