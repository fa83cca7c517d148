"""KubeRay RayJob target: ``kuberay`` and the legacy ``ray`` operator."""

from __future__ import annotations

import json
import math
import shlex

from ..model.records import Resources
from ..render import yaml_text
from .jobset import tpu_hosts
from .naming import HEAD_PATH, worker_group_path
from .pod import Role, identity, pod_template
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


def ray_runtime_env(runtime_env: dict) -> dict:
    """The runtime_env Ray is given: ``env_vars`` values as strings (Ray's RuntimeEnv refuses
    any other type: ray/_private/runtime_env/validation.py parse_and_validate_env_vars), as
    YAML 1.2 writes a number or a boolean; every other value as written."""
    env_vars = runtime_env.get("env_vars")
    if not isinstance(env_vars, dict):
        return runtime_env
    return {**runtime_env, "env_vars": {k: _env_text(v) for k, v in env_vars.items()}}


def _env_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def runtime_env_yaml(runtime_env: dict) -> str:
    """Ray's runtime_env as YAML text. KubeRay converts it to JSON with sigs.k8s.io/yaml
    (rayjob common/job.go getRuntimeEnvJson), so strings are quoted as in the output itself;
    numbers from the manifest (``setup_timeout_seconds: 600``) stay numbers."""
    return yaml_text(runtime_env)


def runtime_env_json(runtime_env: dict) -> str:
    """The JSON KubeRay makes of ``runtimeEnvYAML`` (sigs.k8s.io/yaml YAMLToJSON: keys sorted,
    no spaces)."""
    return json.dumps(runtime_env, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def shell_would_expand(text: str) -> bool:
    """KubeRay's submitter line passes the runtime env JSON in double quotes (Go's strconv.Quote)
    to ``/bin/bash -ce``, where ``$`` and backquotes still expand; a backslash and a double quote
    come through, escaped by strconv.Quote."""
    return "$" in text or "`" in text


# KubeRay's submitter container, when the RayJob gives no submitterPodTemplate
# (common/job.go GetDefaultSubmitterContainer, v1.6.0 and v1.7.0): the head's image and these
# resources. The same here keeps what Kueue reserves for the submitter.
SUBMITTER_CONTAINER = "ray-job-submitter"
SUBMITTER_REQUESTS = {"cpus": 0.5, "memoryGB": 200 / 1024, "gpus": 0}  # per pod, as policies count
SUBMITTER_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "200Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}


def own_submit_line(runtime_env) -> bool:
    """Whether the submitter runs a line of ours: a runtime env KubeRay's line would alter."""
    if not isinstance(runtime_env, dict) or not runtime_env:
        return False
    return shell_would_expand(runtime_env_json(ray_runtime_env(runtime_env)))


def writes_default_submitter(service_account, pull_secrets, runtime_env) -> bool:
    """Whether a RayJob without the legacy ``Job`` type carries KubeRay's default submitter pod
    written out (for the pods' identity, or for a submit line of ours): a pod of the object,
    which admission counts and policies' limits must count too."""
    return bool(service_account or pull_secrets) or own_submit_line(runtime_env)


SUBMIT_SHELL = ["/bin/bash", "-ce", "--"]  # KubeRay's (utils.GetContainerCommand)


def submit_line(job: dict, runtime_json: str) -> str:
    """The submitter's shell line, as KubeRay v1.7 builds it in K8sJobMode (common/job.go
    BuildJobSubmitCommand: wait for the dashboard's GCS health, submit once whatever the
    submitter's retries, then follow the logs), with the runtime env JSON single-quoted, so that
    it reaches ``ray job submit`` as written. The address and the submission id come from the
    variables KubeRay sets in the submitter container whatever its command
    (RAY_DASHBOARD_ADDRESS, RAY_JOB_SUBMISSION_ID)."""
    url = "http://${RAY_DASHBOARD_ADDRESS#http://}"
    address = f'--address "{url}"'
    job_id = '"$RAY_JOB_SUBMISSION_ID"'
    healthy = (  # utils.BasePythonHealthCommand on RayDashboardGCSHealthPath, 10 s a try
        'python -c "import urllib.request; '
        f"r=urllib.request.urlopen('{url}/api/gcs_healthz', timeout=10); "
        "exit(0 if b'success' in r.read() else 1)\""
    )
    submit = [
        "ray job submit",
        address,
        "--no-wait",
        "--runtime-env-json",
        shlex.quote(runtime_json),
        "--submission-id",
        job_id,
    ]
    cpus = job.get("entrypointNumCpus")
    if cpus:
        submit += ["--entrypoint-num-cpus", str(cpus)]
    submit += ["--", job["entrypoint"]]
    return (
        f"until {healthy} >/dev/null 2>&1 ; "
        f'do echo "Waiting for Ray Dashboard GCS to become healthy at {url} ..." ; sleep 2 ; done ; '
        f"if ! ray job status {address} {job_id} >/dev/null 2>&1 ; "
        f"then {' '.join(submit)} ; fi ; "
        f"ray job logs {address} --follow {job_id}"
    )


def _submitter(workload: Workload, context, job: dict, runtime_json: str | None) -> dict | None:
    """submitterPodTemplate: the legacy ``Job`` type's pod; else KubeRay's default container when
    the submitter needs the pods' identity or a shell line of its own; else none (KubeRay's)."""
    spec = workload.spec
    sized = getattr(workload.types, "Job", None)
    own_line = own_submit_line(spec.runtimeEnv)
    if sized is not None:
        role = Role(
            container=SUBMITTER_CONTAINER,
            resources=sized.resources,
            run_command=False,
            restart_policy="Never",
            listens=False,
        )
        template = pod_template(context, role)
    elif writes_default_submitter(spec.serviceAccountName, spec.imagePullSecrets, spec.runtimeEnv):
        container = {
            "name": SUBMITTER_CONTAINER,
            "image": context.image,
            "resources": {k: dict(v) for k, v in SUBMITTER_RESOURCES.items()},
        }
        pod = {"restartPolicy": "Never", **identity(spec), "containers": [container]}
        template = {"metadata": {"labels": dict(context.pod_labels)}, "spec": pod}
    else:
        return None
    if own_line and runtime_json is not None:
        (container,) = template["spec"]["containers"]
        container["command"] = list(SUBMIT_SHELL)
        # the kubelet expands $(VAR) in args against the container's env (KubeRay sets
        # RAY_JOB_SUBMISSION_ID there) and turns $$ into $: every $ doubled reaches the shell
        # as written
        container["args"] = [submit_line(job, runtime_json).replace("$", "$$")]
    return template


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
    placed = workload.placement_annotations()
    cluster: dict = {}
    if spec.rayVersion:
        cluster["rayVersion"] = spec.rayVersion
    cluster["headGroupSpec"] = {
        "rayStartParams": _ray_params(types.Head.rayStartParams, True, types.Head.resources),
        "template": pod_template(context, head, annotations=placed.get(HEAD_PATH)),
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
        spec_group["template"] = pod_template(
            context, role, annotations=placed.get(worker_group_path(group.name))
        )
        groups.append(spec_group)
    if groups:
        cluster["workerGroupSpecs"] = groups

    job: dict = {"entrypoint": entrypoint(spec.command)}
    runtime_env = ray_runtime_env(spec.runtimeEnv) if spec.runtimeEnv else None
    if runtime_env:
        job["runtimeEnvYAML"] = runtime_env_yaml(runtime_env)
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
    submitter = _submitter(
        workload, context, job, runtime_env_json(runtime_env) if runtime_env else None
    )
    if submitter is not None:
        job["submitterPodTemplate"] = submitter
    job["rayClusterSpec"] = cluster
    return [
        {"apiVersion": API_VERSION, "kind": "RayJob", "metadata": workload.metadata(), "spec": job}
    ]
