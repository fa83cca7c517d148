"""KubeRay RayJob target: ``kuberay`` and the legacy ``ray`` operator."""

from __future__ import annotations

import math
import shlex

from ..model.records import Resources
from ..render import yaml_text
from .jobset import tpu_hosts
from .pod import Role, pod_template
from .workload import Workload

API_VERSION = "ray.io/v1"

# Ray's own head ports, which KubeRay's head Service takes from the head container's ports and
# uses only when the container declares none (kuberay ray-operator/controllers/ray/common/service.go
# getServicePorts; names and numbers from ray-operator/controllers/ray/utils/constant.go, v1.7.0).
RAY_HEAD_PORTS = (
    {"name": "gcs-server", "containerPort": 6379, "protocol": "TCP"},
    {"name": "dashboard", "containerPort": 8265, "protocol": "TCP"},
    {"name": "client", "containerPort": 10001, "protocol": "TCP"},
    {"name": "metrics", "containerPort": 8080, "protocol": "TCP"},
)
HEAD_NODE_LABEL = ("ray.io/node-type", "head")  # KubeRay's label on the head pod


def _ray_params(params: dict | None, head: bool, resources: Resources) -> dict:
    """rayStartParams: the manifest's, else Ray's CPUs and GPUs from the pod's *request*. KubeRay
    would take num-cpus from the CPU limit (common/pod.go generateRayStartCommand), which with
    cpuLimitRatio > 1 lets Ray schedule more CPUs of tasks than the pod is guaranteed."""
    merged = {"dashboard-host": "0.0.0.0"} if head else {}
    given = {str(k): str(v) for k, v in (params or {}).items()}
    if "num-cpus" not in given:
        cpus = resources.cpus if resources.cpus is not None else 1
        merged["num-cpus"] = str(math.ceil(cpus))  # KubeRay rounds a quantity up (Value())
    gpu = resources.accelerators.gpu if resources.accelerators else None
    if "num-gpus" not in given and gpu and gpu.count:
        merged["num-gpus"] = str(gpu.count)
    merged.update(given)
    return merged


def entrypoint(command: str) -> str:
    """The RayJob entrypoint that runs the whole of ``command`` through ``/bin/sh -c`` on the Ray
    cluster. It passes three readers: KubeRay pastes it into the submitter's shell line
    (``ray job submit ... -- ENTRYPOINT ;``, common/job.go GetK8sJobCommand); ``ray job submit``
    joins the words it receives with ``subprocess.list2cmdline`` (ray/dashboard/modules/job/cli.py);
    Ray's job manager runs that string with ``shell=True``. So the command is escaped for a POSIX
    double-quoted string inside list2cmdline's quotes, then single-quoted for the submitter."""
    word = " " + _escape_for_double_quotes(command)  # the space makes list2cmdline quote it
    return f"/bin/sh -c {shlex.quote(word)}"


def _escape_for_double_quotes(text: str) -> str:
    """``$``, backquote and backslash escaped for sh's double quotes, knowing that list2cmdline
    then doubles each run of backslashes that precedes a double quote or the end, and writes a
    double quote as backslash-quote."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            end = index
            while end < len(text) and text[end] == "\\":
                end += 1
            run = end - index
            doubled_later = end == len(text) or text[end] == '"'
            out.append("\\" * (run if doubled_later else 2 * run))
            index = end
            continue
        out.append("\\" + char if char in "$`" else char)
        index += 1
    return "".join(out)


def runtime_env_yaml(runtime_env: dict) -> str:
    """Ray's runtime_env as YAML text. KubeRay converts it to JSON with sigs.k8s.io/yaml
    (rayjob common/job.go getRuntimeEnvJson), so strings are quoted as in the output itself;
    numbers from the manifest (``setup_timeout_seconds: 600``) stay numbers."""
    return yaml_text(runtime_env)


def emit_rayjob(workload: Workload, shared_claim: str | None = None) -> list[dict]:
    spec = workload.spec
    types = workload.types
    context = workload.pod_context(shared_claim)
    head = Role(
        container="ray-head",
        resources=types.Head.resources,
        run_command=False,
        restart_policy=None,
        own_ports=RAY_HEAD_PORTS,
    )
    cluster: dict = {}
    if spec.rayVersion:
        cluster["rayVersion"] = spec.rayVersion
    cluster["headGroupSpec"] = {
        "rayStartParams": _ray_params(types.Head.rayStartParams, True, types.Head.resources),
        "template": pod_template(context, head),
    }
    groups = []
    for group in types.Workers:
        role = Role(
            container="ray-worker",
            resources=group.resources,
            run_command=False,
            restart_policy=None,
            listens=False,
        )
        spec_group: dict = {
            "groupName": group.name,
            "replicas": group.count,
            "minReplicas": group.count,
            "maxReplicas": group.count,
        }
        hosts = tpu_hosts(group.resources)
        if hosts > 1:  # each replica is a multi-host TPU slice of `hosts` pods
            spec_group["numOfHosts"] = hosts
        spec_group["rayStartParams"] = _ray_params(group.rayStartParams, False, group.resources)
        spec_group["template"] = pod_template(context, role)
        groups.append(spec_group)
    if groups:
        cluster["workerGroupSpecs"] = groups

    job: dict = {"entrypoint": entrypoint(spec.command)}
    if spec.runtimeEnv:
        job["runtimeEnvYAML"] = runtime_env_yaml(spec.runtimeEnv)
    if spec.jobId:
        job["jobId"] = spec.jobId
    if spec.entrypointNumCpus is not None:
        cpus = spec.entrypointNumCpus
        job["entrypointNumCpus"] = int(cpus) if float(cpus).is_integer() else cpus
    # With shutdownAfterJobFinishes, ttlSecondsAfterFinished is how long the *RayCluster* outlives
    # the job (rayjob_controller.go handleShutdownAfterJobFinishes, v1.6 and v1.7), while Kueue
    # frees the quota at once: the cluster goes at once, the RayJob record stays. The manifest's
    # TTL (the record's) has no RayJob field that Kueue allows (deletionRules exclude
    # shutdownAfterJobFinishes, which Kueue requires).
    job["shutdownAfterJobFinishes"] = True
    job["ttlSecondsAfterFinished"] = 0
    deadline = workload.deadline_seconds()
    if deadline:
        job["activeDeadlineSeconds"] = deadline
    if spec.restartPolicy and spec.restartPolicy.backoffLimit is not None:
        job["backoffLimit"] = spec.restartPolicy.backoffLimit
    submitter = getattr(types, "Job", None)
    if submitter is not None:
        role = Role(
            container="ray-job-submitter",
            resources=submitter.resources,
            run_command=False,
            restart_policy="Never",
            listens=False,
        )
        job["submitterPodTemplate"] = pod_template(context, role)
    job["rayClusterSpec"] = cluster
    return [
        {"apiVersion": API_VERSION, "kind": "RayJob", "metadata": workload.metadata(), "spec": job}
    ]
