"""The remote build backend: a batch/v1 Job running the kaniko executor on the cluster.

The Job builds the repository at the commit (a ``git://`` context), pushes with the registry
credentials of a Secret mounted at ``/kaniko/.docker``, and writes the pushed digest to its
termination message, where :func:`digest_from_pod` reads it. All pure.
"""

from __future__ import annotations

import re

from ..emit.naming import dns1035
from ..emit.workload import MANAGED_BY
from ..imageref import is_digest
from .git import kaniko_git_context
from .plan import BuildPlan

KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
DEFAULT_REGISTRY_SECRET = "registry-credentials"
TERMINATION_LOG = "/dev/termination-log"
CREDENTIALS_VOLUME = "registry-credentials"
BUILD_LABEL = "manifest-compiler/build"
COMMIT_ANNOTATION = "manifest-compiler/commit"
IMAGE_ANNOTATION = "manifest-compiler/image"
MAX_JOB_NAME = 57  # the Job's pods are named <job>-xxxxx and must stay a 63-character label


def build_job_name(plan: BuildPlan) -> str:
    tag = re.sub(r"[^a-z0-9]+", "-", plan.tag.lower()).strip("-")  # a suffix may start with a digit
    stem = dns1035(plan.repository.rsplit("/", 1)[-1]) or "image"
    room = MAX_JOB_NAME - len("build--") - len(tag)
    return f"build-{stem[:room].rstrip('-')}-{tag}"


def kaniko_args(plan: BuildPlan) -> list[str]:
    args = [
        f"--context={kaniko_git_context(plan.remote_url or '', plan.remote_branch, plan.commit)}"
    ]
    if plan.context != ".":
        args.append(f"--context-sub-path={plan.context}")
    args += [
        f"--dockerfile={plan.dockerfile_in_context}",
        f"--destination={plan.destination}",
        f"--digest-file={TERMINATION_LOG}",
    ]
    args += [f"--build-arg={name}={value}" for name, value in plan.build_args]
    if plan.target:
        args.append(f"--target={plan.target}")
    return args


def kaniko_job(
    plan: BuildPlan,
    namespace: str | None = None,
    registry_secret: str = DEFAULT_REGISTRY_SECRET,
    name: str | None = None,
) -> dict:
    """The build Job. The Secret is a ``kubernetes.io/dockerconfigjson`` one
    (``kubectl create secret docker-registry``); its key becomes ``/kaniko/.docker/config.json``."""
    job_name = name or build_job_name(plan)
    labels = {**MANAGED_BY, BUILD_LABEL: job_name}
    metadata: dict = {"name": job_name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = labels
    metadata["annotations"] = {COMMIT_ANNOTATION: plan.commit, IMAGE_ANNOTATION: plan.destination}
    container = {
        "name": "kaniko",
        "image": KANIKO_IMAGE,
        "args": kaniko_args(plan),
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "File",
        "volumeMounts": [
            {"name": CREDENTIALS_VOLUME, "mountPath": "/kaniko/.docker", "readOnly": True}
        ],
    }
    credentials = {
        "secretName": registry_secret,
        "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
    }
    pod = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": [{"name": CREDENTIALS_VOLUME, "secret": credentials}],
    }
    spec = {"backoffLimit": 0, "template": {"metadata": {"labels": labels}, "spec": pod}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def digest_from_pod(pod: dict) -> str | None:
    """The digest kaniko wrote to the termination message of a finished build pod, if any."""
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") != "kaniko":
            continue
        terminated = (status.get("state") or {}).get("terminated") or {}
        message = (terminated.get("message") or "").strip()
        if is_digest(message):
            return message
    return None
