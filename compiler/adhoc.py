"""The manifest ``compile run`` synthesises from its flags (pure).

One worker is a ``batchjob`` (a batch/v1 Job); two or more a ``kuberay`` RayJob whose entrypoint
runs on the head and requires no CPU (``entrypointNumCpus: 0``), with one worker group of N
workers sized by ``--cpus``/``--gpus``/``--memory``. ``--operator`` chooses instead: ``batchjob``
(one indexed Job of N pods), ``jobset`` (N Jobs of one pod) or ``kuberay``. The head keeps the default size and no GPU.
The result goes through the same pipeline, templates and policies as a manifest written by hand.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

import yaml

from .emit.naming import dns1035

RUN_SOURCE = "<compile run>"
API_VERSION = "0.2.3"
DEFAULT_RAM_RATIO = 4  # GB per CPU when --memory is not given
WORKER_TYPE = "worker"
WORKER_GROUP = "workers"
RUN_OPERATORS = ("batchjob", "jobset", "kuberay")


@dataclass(frozen=True)
class RunRequest:
    image: str
    command: tuple[str, ...]
    workers: int = 1
    cpus: float | None = None  # None: the default (built-in 1, or a policy's)
    gpus: int = 0
    memory: float | None = None  # GB per worker; None: cpus x DEFAULT_RAM_RATIO
    queue: str | None = None
    name: str | None = None
    project: str | None = None
    operator: str | None = None  # None: batchjob for one worker, else kuberay

    @property
    def chosen_operator(self) -> str:
        return self.operator or ("batchjob" if self.workers == 1 else "kuberay")

    @property
    def command_line(self) -> str:
        return shlex.join(self.command)


def _number(value: float):
    return int(value) if float(value).is_integer() else float(value)


def worker_resources(request: RunRequest) -> dict:
    resources: dict = {}
    if request.cpus is not None:
        resources["cpus"] = _number(request.cpus)
    if request.memory is not None:
        resources["memory"] = _number(request.memory)
    else:
        resources["ramRatio"] = DEFAULT_RAM_RATIO
    if request.gpus:
        resources["accelerators"] = {"gpu": {"count": request.gpus}}
    return resources


def default_name(request: RunRequest) -> str:
    """``<program>-<8 hex>``: the program's name and a hash of everything requested."""
    program = request.command[0].rsplit("/", 1)[-1] if request.command else "run"
    fingerprint = repr(
        (
            request.image,
            request.command,
            request.workers,
            request.cpus,
            request.gpus,
            request.memory,
            request.queue,
            request.project,
        )
        + ((request.operator,) if request.operator else ())
    )
    suffix = hashlib.sha256(fingerprint.encode()).hexdigest()[:8]
    stem = dns1035(program)[:30].rstrip("-") or "run"
    return f"{stem}-{suffix}"


def synthesise_manifest(request: RunRequest) -> dict:
    operator = request.chosen_operator
    spec: dict = {"operator": operator, "image": request.image, "command": request.command_line}
    if request.queue:
        spec["queue"] = request.queue
    if operator == "jobset":
        spec["types"] = {
            WORKER_TYPE: {"count": request.workers, "resources": worker_resources(request)}
        }
    elif operator == "batchjob":
        pods = {"completions": request.workers, "parallelisms": request.workers}
        spec["types"] = {
            WORKER_TYPE: {
                "count": 1,
                **(pods if request.workers > 1 else {}),
                "resources": worker_resources(request),
            }
        }
    else:
        spec["entrypointNumCpus"] = 0
        spec["types"] = {
            "Head": {"resources": {"ramRatio": DEFAULT_RAM_RATIO}},
            "Workers": [
                {
                    "name": WORKER_GROUP,
                    "count": request.workers,
                    "resources": worker_resources(request),
                }
            ],
        }
    manifest: dict = {
        "kind": "AIchorManifest",
        "apiVersion": API_VERSION,
        "name": request.name or default_name(request),
    }
    if request.project:
        manifest["project"] = request.project
    manifest["spec"] = spec
    return manifest


def manifest_yaml(manifest: dict) -> str:
    return yaml.safe_dump(
        manifest, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096
    )
