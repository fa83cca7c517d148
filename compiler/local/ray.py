"""What a kubelet's pod network gives `ray start` for free, made explicit for pods that share one
network namespace: each pod's own IP as Ray's node address (Ray would find it through the pod's
default route; here there is none), and distinct ports where KubeRay writes the same fixed port
into every node's command (Ray binds them on all addresses). The first pod to use such a port
keeps it; a later one gets a fresh port, in its command and in its probes alike."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: flags KubeRay sets to the same value on every node
FIXED_PORT_FLAGS = ("--metrics-export-port", "--dashboard-agent-listen-port")
_RAY_START = re.compile(r"\bray start\b")


def is_ray_start(text: str) -> bool:
    return bool(_RAY_START.search(text))


def fixed_ports(text: str) -> list[int]:
    """The fixed ports a `ray start` line asks for."""
    if not is_ray_start(text):
        return []
    return [int(m.group(1)) for f in FIXED_PORT_FLAGS for m in re.finditer(rf"{f}[= ](\d+)", text)]


def adapt_ray_start(text: str, pod_ip: str, moved: Mapping[int, int]) -> str:
    """`text` (a shell line or one argv word) with each `ray start` given its pod's node address
    and the `moved` fixed ports; anything else is returned unchanged."""
    if not is_ray_start(text):
        return text
    for flag in FIXED_PORT_FLAGS:

        def move(match: re.Match[str], flag: str = flag) -> str:
            port = int(match.group(1))
            return f"{flag}={moved.get(port, port)}"

        text = re.sub(rf"{flag}[= ](\d+)", move, text)
    if "--node-ip-address" not in text:
        text = _RAY_START.sub(f"ray start --node-ip-address={pod_ip}", text)
    return text


def move_ports(text: str, moved: Mapping[int, int]) -> str:
    """A probe's command with `host:port` references to moved ports rewritten."""
    if not moved:
        return text
    return re.sub(r":(\d+)\b", lambda m: f":{moved.get(int(m.group(1)), int(m.group(1)))}", text)
