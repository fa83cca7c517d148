"""kwok: fake nodes that play the pod lifecycle (stages in testbed/kwok-stages.yaml) and a
kubelet-like server on 127.0.0.1 that serves pod logs. There is no container runtime."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .common import POD_CIDR, TESTBED, wait_for
from .pki import LOOPBACK_SANS
from .plane import Plane

NAME = "kwok"
KWOK_STAGES = TESTBED / "kwok-stages.yaml"

#: annotation that kwok manages nodes by (kwok --manage-nodes-with-annotation-selector)
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
#: pod annotation read by testbed/kwok-stages.yaml: succeed | fail | run
OUTCOME_ANNOTATION = "testbed.manifest-compiler/outcome"
RUN_FOR_ANNOTATION = "testbed.manifest-compiler/run-for"
EXIT_CODE_ANNOTATION = "testbed.manifest-compiler/exit-code"

#: what every container "writes": kwok serves these lines as each container's log
#: (`kubectl logs`, `GET .../pods/NAME/log`), from one file for all pods (kwok's
#: ClusterLogs matches pods by name and namespace only, and test pod names are random)
POD_LOG_LINES = (
    "testbed: container started",
    "testbed: step 1/2",
    "testbed: step 2/2",
    "testbed: container done",
)

DEFAULT_NODE_CAPACITY = {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"}


#: the node labels of a topology node set (GKE's names for them), widest domain first
BLOCK_LABEL = "cloud.google.com/gce-topology-block"
RACK_LABEL = "cloud.google.com/gce-topology-subblock"
HOST_LABEL = "kubernetes.io/hostname"
#: small hosts, so that "fits one rack" (2 hosts, 8 CPUs) means something
TOPOLOGY_NODE_CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110"}


@dataclass(frozen=True)
class Topology:
    """A node set laid out as `blocks` x `racks` per block x `hosts` per rack, every node
    labelled with its block (BLOCK_LABEL), rack (RACK_LABEL) and host (HOST_LABEL), the
    levels of a Kueue Topology. Node names: kwok-b{block}-r{rack}-h{host}; rack label
    values b{block}-r{rack} (unique across blocks)."""

    blocks: int = 2
    racks: int = 2
    hosts: int = 2
    capacity: dict[str, str] = field(default_factory=lambda: dict(TOPOLOGY_NODE_CAPACITY))

    @classmethod
    def parse(cls, text: str) -> Topology:
        """From the CLI form BxRxH, e.g. 2x2x2."""
        blocks, racks, hosts = (int(n) for n in text.lower().split("x"))
        if min(blocks, racks, hosts) < 1:
            raise ValueError(f"topology {text!r}: every count must be at least 1")
        return cls(blocks, racks, hosts)

    def node_manifests(self) -> list[dict]:
        nodes = []
        for b in range(self.blocks):
            for r in range(self.racks):
                for h in range(self.hosts):
                    node = _node(f"kwok-b{b}-r{r}-h{h}", self.capacity)
                    node["metadata"]["labels"] |= {
                        BLOCK_LABEL: f"b{b}",
                        RACK_LABEL: f"b{b}-r{r}",
                        "topology.kubernetes.io/zone": f"zone-{b}",
                    }
                    nodes.append(node)
        return nodes


def node_names(count: int) -> list[str]:
    return [f"kwok-node-{i}" for i in range(count)]


def node_manifest(i: int, capacity: dict[str, str]) -> dict:
    node = _node(f"kwok-node-{i}", capacity)
    node["metadata"]["labels"] |= {
        "node.kubernetes.io/instance-type": "kwok-gpu",
        "topology.kubernetes.io/zone": f"zone-{i % 2}",
        "nvidia.com/gpu.present": "true",
    }
    return node


def _node(name: str, capacity: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                HOST_LABEL: name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {"capacity": dict(capacity), "allocatable": dict(capacity)},
    }


def write_logs_config(cp: Plane) -> Path:
    """A CRI-format log file that every container "wrote", and the ClusterLogs
    (kwok's config API) that makes kwok serve it for every pod and container."""
    log_file = cp.path("kwok-logs") / "container.log"
    log_file.parent.mkdir(exist_ok=True)
    log_file.write_text(
        "".join(
            f"2026-01-01T00:00:0{i}.000000000Z stdout F {line}\n"
            for i, line in enumerate(POD_LOG_LINES)
        )
    )
    config = cp.path("kwok-logs.yaml")
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kwok.x-k8s.io/v1alpha1",
                "kind": "ClusterLogs",
                "metadata": {"name": "testbed-logs"},
                # no selector: every pod; no containers: every container
                "spec": {"logs": [{"logsFile": str(log_file), "follow": True}]},
            },
            indent=2,
        )
        + "\n"
    )
    return config


def start(cp: Plane) -> None:
    pki = cp.pki
    # kwok's kubelet-like server (logs); every node's InternalIP is 127.0.0.1 (--node-ip)
    pki.make_cert("kwok-serving", "/CN=kwok-kubelet", server_sans=LOOPBACK_SANS)
    port = cp.port("kwok")
    cp.spawn(
        NAME,
        [
            str(cp.bins["kwok"]),
            "--kubeconfig",
            str(cp.kubeconfig),
            "--config",
            str(KWOK_STAGES),
            "--config",
            str(write_logs_config(cp)),
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
            "--node-ip",
            "127.0.0.1",
            "--cidr",
            POD_CIDR,
            # the kubelet-like server (HTTPS and HTTP on one port); the node stage
            # advertises --node-port as status.daemonEndpoints.kubeletEndpoint.Port
            "--server-address",
            f"127.0.0.1:{port}",
            "--node-port",
            str(port),
            "--tls-cert-file",
            str(pki.path("kwok-serving.crt")),
            "--tls-private-key-file",
            str(pki.path("kwok-serving.key")),
            "--node-lease-duration-seconds",
            "40",
        ],
        # a private HOME: kwok would also load a user's ~/.kwok/kwok.yaml
        env=dict(os.environ, HOME=str(cp.path("kwok-home"))),
    )
    nodes = cp.node_manifests()
    cp.kubectl(
        "apply",
        "--validate=false",  # as webhooks.register
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}),
    )


def wait_nodes_ready(cp: Plane) -> None:
    def nodes_ready() -> bool:
        ready = 0
        for item in cp.kubectl_json("get", "nodes")["items"]:
            if item["metadata"]["name"] not in names or item["spec"].get("taints"):
                continue
            for c in item.get("status", {}).get("conditions", []):
                if c["type"] == "Ready" and c["status"] == "True":
                    ready += 1
        return ready >= len(names)

    names = {node["metadata"]["name"] for node in cp.node_manifests()}
    wait_for("kwok nodes Ready and untainted", nodes_ready, 60, interval=0.5, alive=cp.check_alive)
