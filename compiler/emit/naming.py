"""Kubernetes names: DNS-1035 labels, and the names the controllers will generate from ours."""

from __future__ import annotations

import re

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_LABEL = 63
RAYJOB_MAX = 47  # KubeRay: 53 - 6 (the RayCluster gets a 5-character suffix)
POD_SUFFIX = 6  # "-xxxxx" added by the Job controller


def dns1035(text: str) -> str:
    """Make ``text`` a DNS-1035 label: lower case, ``[a-z0-9-]``, starting with a letter."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)
    return name[:MAX_LABEL].rstrip("-")


def is_dns1035(name: str) -> bool:
    return len(name) <= MAX_LABEL and bool(DNS1035.match(name))


def replicated_job_name(type_name: str) -> str:
    """JobSet replicated-job names must be DNS-1035; ``Master``/``Worker`` become lower case."""
    return type_name.lower()


def pod_hostname(jobset: str, rjob: str, job_index: int | str = 0, pod_index: int | str = 0) -> str:
    return f"{jobset}-{rjob}-{job_index}-{pod_index}"


# Where each pod set's type stands in the manifest (logical paths: a Ray worker group by its name).
HEAD = "Head"
HEAD_PATH = ("spec", "types", HEAD)


def type_path(name: str) -> tuple:
    return ("spec", "types", name)


def worker_group_path(name: str) -> tuple:
    return ("spec", "types", "Workers", name)
