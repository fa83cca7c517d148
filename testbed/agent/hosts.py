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


def render(base: str, lines: Iterable[tuple[str, list[str]]]) -> str:
    out = base if base.endswith("\n") or not base else base + "\n"
    out += "# testbed agent: pods and Services\n"
    for ip, names in lines:
        out += f"{ip}\t{' '.join(names)}\n"
    return out
