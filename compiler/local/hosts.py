"""The name → IP table the agent's pods (and, under testbed/isolated, every process of the test
run) resolve through /etc/hosts: what cluster DNS would answer. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

CLUSTER_DOMAIN = "cluster.local"


def name_forms(name: str, namespace: str) -> list[str]:
    """Every form a workload may use (hosts files get no search-domain expansion)."""
    return [
        f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}",
        f"{name}.{namespace}.svc",
        f"{name}.{namespace}",
        name,
    ]


def pod_names(pod: Mapping) -> list[str]:
    """A pod's DNS names: ``<hostname>.<subdomain>`` forms when both are set (JobSet, Indexed
    Jobs with a headless Service), and its own hostname (or name)."""
    meta, spec = pod["metadata"], pod.get("spec", {})
    namespace = meta.get("namespace", "default")
    hostname = spec.get("hostname") or meta["name"]
    names: list[str] = []
    if spec.get("subdomain"):
        names += name_forms(f"{hostname}.{spec['subdomain']}", namespace)
    names.append(hostname)
    return names


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def entries(pods: Iterable[Mapping], services: Iterable[Mapping]) -> list[tuple[str, list[str]]]:
    """(ip, names) lines: each running pod's names, and each Service's names pointing at the
    pods it selects (ClusterIPs route nowhere here, so every Service resolves like a headless
    one)."""
    with_ip = [p for p in pods if (p.get("status") or {}).get("podIP")]
    lines = [(p["status"]["podIP"], pod_names(p)) for p in with_ip]
    for svc in services:
        meta = svc["metadata"]
        selector = (svc.get("spec") or {}).get("selector") or {}
        for pod in with_ip:
            same_ns = pod["metadata"].get("namespace") == meta.get("namespace")
            if same_ns and selects(selector, pod["metadata"].get("labels") or {}):
                lines.append((pod["status"]["podIP"], name_forms(meta["name"], meta["namespace"])))
    return lines


LOCALHOST = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
BEGIN = "# testbed agent: pods and Services (begin)"
END = "# testbed agent (end)"


def replace_block(text: str, lines: Iterable[tuple[str, list[str]]]) -> str:
    """`text` (a hosts file) with the agent's block replaced by `lines` (removed when empty);
    every line outside the block is kept."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if line == BEGIN:
            inside = True
        elif line == END:
            inside = False
        elif not inside:
            kept.append(line)
    block = [f"{ip}\t{' '.join(names)}" for ip, names in lines]
    if block:
        kept += [BEGIN, *block, END]
    return "".join(line + "\n" for line in kept)
