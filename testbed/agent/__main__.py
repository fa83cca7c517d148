"""python -m testbed.agent --kubeconfig K --node-name N --workdir D --serving-cert C --serving-key K

Registers the Node, runs its pods until SIGTERM, then kills them and deletes the Node. Writes
``<workdir>/ready`` (JSON: node, port) once the Node is registered and its log server listens."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from testbed.agent.kube import Kube
from testbed.agent.node import AGENT_POD_RANGE, Agent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testbed.agent")
    ap.add_argument("--kubeconfig", required=True, type=Path)
    ap.add_argument("--node-name", default="agent-0")
    ap.add_argument("--workdir", required=True, type=Path)
    ap.add_argument("--serving-cert", required=True, type=Path)
    ap.add_argument("--serving-key", required=True, type=Path)
    ap.add_argument("--venv", type=Path, help="Python environment put first on the pods' PATH")
    ap.add_argument("--image-root", type=Path, help="directory standing in for images")
    ap.add_argument(
        "--hosts-file",
        type=Path,
        help="a hosts file other processes see as /etc/hosts (the control plane's, or "
        "testbed/isolated's): the agent keeps its block of pod and Service names in it, in "
        "place; without it the agent writes its own. Pods see it as /etc/hosts either way",
    )
    ap.add_argument("--max-pod-seconds", type=float, default=600.0)
    ap.add_argument(
        "--pod-range", default=AGENT_POD_RANGE, help=f"pod IPs (default {AGENT_POD_RANGE})"
    )
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    agent = Agent(
        Kube(args.kubeconfig),
        args.node_name,
        args.workdir,
        args.serving_cert,
        args.serving_key,
        venv=args.venv,
        image_root=args.image_root,
        hosts_file=args.hosts_file,
        max_pod_seconds=args.max_pod_seconds,
        pod_range=args.pod_range,
    )
    signal.signal(signal.SIGTERM, lambda *_: agent.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: agent.stopping.set())
    agent.start()
    ready = {"node": args.node_name, "port": agent.port, "seconds": time.monotonic() - t0}
    (args.workdir / "ready").write_text(json.dumps(ready) + "\n")
    try:
        agent.run()
    finally:
        agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
