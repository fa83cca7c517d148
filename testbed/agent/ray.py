"""What a kubelet's pod network gives `ray start` for free, made explicit for pods that share one
network namespace: each pod's own IP as Ray's node address (Ray would find it through the pod's
default route; here there is none), and distinct ports where KubeRay writes the same fixed port
into every node's command (Ray binds them on all addresses)."""

from __future__ import annotations

import re
from collections.abc import Callable

#: flags KubeRay sets to the same value on every node
FIXED_PORT_FLAGS = ("--metrics-export-port", "--dashboard-agent-listen-port")


def adapt_ray_start(text: str, pod_ip: str, free_port: Callable[[], int]) -> str:
    """`text` (a shell line or one argv word) with each `ray start` given its pod's node address
    and fresh values for the fixed ports; anything else is returned unchanged."""
    if not re.search(r"\bray start\b", text):
        return text
    for flag in FIXED_PORT_FLAGS:

        def fresh(_match: re.Match[str], flag: str = flag) -> str:
            return f"{flag}={free_port()}"

        text = re.sub(rf"{flag}[= ]\d+", fresh, text)
    if "--node-ip-address" not in text:
        text = re.sub(r"\bray start\b", f"ray start --node-ip-address={pod_ip}", text)
    return text
