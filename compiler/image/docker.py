"""The local build backend: ``docker buildx build --push`` with a metadata file.

:func:`docker_build_args` and :func:`digest_from_metadata` are pure; :func:`run_docker_build`
starts the process.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from ..imageref import is_digest
from .plan import BuildPlan


def docker_build_args(plan: BuildPlan, metadata_file: str) -> list[str]:
    """The command line, run from the repository root."""
    args = [
        "docker",
        "buildx",
        "build",
        "--push",
        "--metadata-file",
        metadata_file,
        "-t",
        plan.destination,
        "-f",
        plan.dockerfile,
    ]
    for name, value in plan.build_args:
        args += ["--build-arg", f"{name}={value}"]
    if plan.target:
        args += ["--target", plan.target]
    args.append(plan.context)
    return args


class BuildFailed(Exception):
    pass


class ToolMissing(Exception):
    pass


def digest_from_metadata(text: str) -> str:
    """``containerimage.digest`` of buildx's metadata file; raises :class:`BuildFailed`."""
    try:
        metadata = json.loads(text)
    except ValueError as exc:
        raise BuildFailed(f"the metadata file is not JSON: {exc}") from exc
    digest = metadata.get("containerimage.digest") if isinstance(metadata, dict) else None
    if not isinstance(digest, str) or not is_digest(digest):
        raise BuildFailed(f"the metadata file holds no containerimage.digest (found {digest!r})")
    return digest


@dataclass(frozen=True)
class DockerResult:
    digest: str
    args: tuple


def run_docker_build(
    plan: BuildPlan, root: str, metadata_file: str, docker: str = "docker"
) -> DockerResult:
    """Build and push from ``root``; the build's own output goes to our stderr."""
    args = docker_build_args(plan, metadata_file)
    args[0] = docker
    try:
        # stdout is for the result: the build's own output goes to stderr
        done = subprocess.run(args, cwd=root, stdout=2, check=False)
    except OSError as exc:
        raise ToolMissing(f"cannot run {docker}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        raise BuildFailed(f"{docker} buildx build exited with status {done.returncode}")
    try:
        with open(metadata_file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise BuildFailed(f"{docker} wrote no metadata file: {exc.strerror or exc}") from exc
    return DockerResult(digest_from_metadata(text), tuple(args))
