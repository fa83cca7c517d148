"""What KubeRay v1.6.0 makes of a RayJob (K8sJobMode): a RayCluster whose head and worker pods
run ``ray start``, two head Services, and a submitter Job running ``ray job submit``. Facts from
ray-operator/controllers/ray (common/pod.go DefaultHeadPodTemplate, DefaultWorkerPodTemplate,
BuildPod, setContainerEnvVars, generateRayStartCommand, initLivenessAndReadinessProbe;
common/job.go BuildJobSubmitCommand, GetSubmitterTemplate; rayjob_controller.go
constructRayClusterForRayJob, configureSubmitterContainer, createNewK8sJob; utils/constant.go,
utils/util.go). Pure."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping

from . import controllers
from .env import parse_quantity
from .pods import FailurePolicy, LocalGroup, LocalWorkload

KUBERAY_VERSION = "v1.6.0"
CLUSTER_DOMAIN = "cluster.local"
#: the controllers' random five characters (RayCluster name, pod names), made deterministic
LOCAL_SUFFIX = "local"

CLUSTER = "ray.io/cluster"
NODE_TYPE = "ray.io/node-type"
GROUP = "ray.io/group"
IS_RAY_NODE = "ray.io/is-ray-node"
IDENTIFIER = "ray.io/identifier"
ORIGINATED_FROM_NAME = "ray.io/originated-from-cr-name"
ORIGINATED_FROM_CRD = "ray.io/originated-from-crd"
APP_NAME = "app.kubernetes.io/name"
CREATED_BY = "app.kubernetes.io/created-by"
HEAD_GROUP = "headgroup"  # utils.RayNodeHeadGroupLabelValue

DEFAULT_GCS_PORT = "6379"
DEFAULT_DASHBOARD_PORT = 8265
DEFAULT_METRICS_PORT = "8080"
DEFAULT_AGENT_PORT = "52365"
SUBMITTER_BACKOFF_LIMIT = 2
GPU_SUFFIX = "gpu"  # utils.IsGPUResourceKey: a resource name ending in "gpu"
WGET = "wget --tries 1 -T {timeout} -q -O- http://localhost:{port}/{path} | grep success"


def cluster_name(rayjob: Mapping) -> str:
    return f"{rayjob['metadata']['name']}-{LOCAL_SUFFIX}"


def _namespace(obj: Mapping) -> str:
    return obj["metadata"].get("namespace") or "default"


def head_service(rayjob: Mapping) -> str:
    return f"{cluster_name(rayjob)}-head-svc"


def fqdn_ray_ip(rayjob: Mapping) -> str:
    return f"{head_service(rayjob)}.{_namespace(rayjob)}.svc.{CLUSTER_DOMAIN}"


def _head_labels(rayjob: Mapping) -> dict[str, str]:
    """The head Services' selector (common/service.go HeadServiceLabels)."""
    name = cluster_name(rayjob)
    return {
        CLUSTER: name,
        NODE_TYPE: "head",
        IDENTIFIER: f"{name}-head",
        APP_NAME: "kuberay",
        CREATED_BY: "kuberay-operator",
    }


def services(objects: Iterable[Mapping]) -> list[dict]:
    """The RayCluster's head Service and the RayJob's own, both selecting the head pod."""
    found = []
    for obj in objects:
        if obj.get("kind") != "RayJob" or (obj.get("spec") or {}).get("clusterSelector"):
            continue
        for name in (head_service(obj), f"{obj['metadata']['name']}-head-svc"):
            found.append(
                {
                    "metadata": {"name": name, "namespace": _namespace(obj)},
                    "spec": {"selector": _head_labels(obj)},
                }
            )
    return found


def _labels(template: Mapping, cluster: str, node_type: str, group: str) -> dict[str, str]:
    """labelPod: KubeRay's labels, the template's on top except the three it owns."""
    labels = {
        IS_RAY_NODE: "yes",
        CLUSTER: cluster,
        NODE_TYPE: node_type,
        GROUP: group,
        IDENTIFIER: f"{cluster}-{node_type}",
        APP_NAME: "kuberay",
        CREATED_BY: "kuberay-operator",
    }
    for key, value in ((template.get("metadata") or {}).get("labels") or {}).items():
        if key not in (NODE_TYPE, GROUP, CLUSTER):
            labels[key] = value
    return labels


def _start_params(given: Mapping, head: bool, fqdn: str, port: str) -> dict[str, str]:
    """setMissingRayStartParams."""
    params = {str(k): str(v) for k, v in given.items()}
    if not head:
        params.setdefault("address", f"{fqdn}:{port}")
    else:
        params.setdefault("dashboard-host", "0.0.0.0")
    params.setdefault("metrics-export-port", DEFAULT_METRICS_PORT)
    params["block"] = "true"
    params.setdefault("dashboard-agent-listen-port", DEFAULT_AGENT_PORT)
    return params


def _ray_start_command(head: bool, params: dict[str, str], resources: Mapping) -> str:
    """generateRayStartCommand: CPUs and memory from the limits, then the flags sorted."""
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    if "num-cpus" not in params:
        cpu = limits.get("cpu") or requests.get("cpu")
        if cpu and parse_quantity(str(cpu)) != 0:
            params["num-cpus"] = str(math.ceil(parse_quantity(str(cpu))))
    if "memory" not in params and limits.get("memory"):
        params["memory"] = str(math.ceil(parse_quantity(str(limits["memory"]))))
    if "num-gpus" not in params:
        for key in sorted(limits):
            if key.endswith(GPU_SUFFIX) and parse_quantity(str(limits[key])) != 0:
                params["num-gpus"] = str(math.ceil(parse_quantity(str(limits[key]))))
                break
    flags = ""
    for key in sorted(params):
        value = params[key]
        if value.lower() in ("true", "false") and key not in ("log-color", "include-dashboard"):
            if value.lower() == "true":
                flags += f" --{key} "
        else:
            flags += f" --{key}={value} "
    return f"ray start --head {flags}" if head else f"ray start {flags}"


def _joined(words: list[str]) -> str:
    """convertCmdToString."""
    return "".join(f" {w} " for w in words)


def _bash(*options: str) -> list[str]:
    """utils.GetContainerCommand (the operator's ENABLE_LOGIN_SHELL unset)."""
    return ["/bin/bash", "-c" + "".join(options), "--"]


def _ray_pod(
    rayjob: Mapping,
    group_spec: Mapping,
    node_type: str,
    group: str,
    name: str,
) -> dict:
    """BuildPod over the head or worker template."""
    head = node_type == "head"
    cluster = cluster_name(rayjob)
    cluster_spec = rayjob["spec"].get("rayClusterSpec") or {}
    template = copy.deepcopy(dict(group_spec.get("template") or {}))
    spec = template.setdefault("spec", {})
    head_params = (cluster_spec.get("headGroupSpec") or {}).get("rayStartParams") or {}
    port = str(head_params.get("port") or DEFAULT_GCS_PORT)
    fqdn = fqdn_ray_ip(rayjob)
    params = _start_params(group_spec.get("rayStartParams") or {}, head, fqdn, port)
    containers = spec.setdefault("containers", [{}])
    ray = containers[0]
    user_env = [dict(e) for e in ray.get("env") or []]
    if not head:
        spec["initContainers"] = [
            *(spec.get("initContainers") or []),
            _wait_gcs_ready(ray, fqdn, port, user_env),
        ]
    if "plasma-directory" not in params:
        _add_shared_memory(spec, ray)
    command = _joined(ray.get("command") or []) + _joined(ray.get("args") or [])
    start = _ray_start_command(head, params, ray.get("resources") or {})
    if "ray start" not in command:
        generated = f"ulimit -n 65536; {start}"
        ray["command"] = _bash()
        ray["args"] = [f"{command} && {generated}" if command else generated]
    for init in spec.get("initContainers") or []:
        init["env"] = [
            *(init.get("env") or []),
            {"name": "FQ_RAY_IP", "value": fqdn},
            {"name": "RAY_IP", "value": fqdn.split(".")[0]},
        ]
    ray["env"] = _ray_env(user_env, head, fqdn, port, start)
    if "readinessProbe" not in ray:
        ray["readinessProbe"] = _readiness(head, params, cluster_spec.get("rayVersion") or "")
    template["metadata"] = {
        "name": name,
        "namespace": _namespace(rayjob),
        "labels": _labels(template, cluster, node_type, group),
        "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
        "uid": controllers.object_uid("Pod", _namespace(rayjob), name),
    }
    return template


def _add_shared_memory(spec: dict, ray: dict) -> None:
    """addEmptyDir: a memory-backed /dev/shm for the object store, unless one is mounted."""
    mounts = ray.setdefault("volumeMounts", [])
    if any(m.get("mountPath") == "/dev/shm" for m in mounts):
        return
    mounts.append({"name": "shared-mem", "mountPath": "/dev/shm"})
    volumes = spec.setdefault("volumes", [])
    if not any(v.get("name") == "shared-mem" for v in volumes):
        volumes.append({"name": "shared-mem", "emptyDir": {"medium": "Memory"}})


def _wait_gcs_ready(ray: Mapping, fqdn: str, port: str, user_env: list[dict]) -> dict:
    script = f"""
					SECONDS=0
					while true; do
						if (( SECONDS <= 120 )); then
							if ray health-check --address {fqdn}:{port} > /dev/null 2>&1; then
								echo "GCS is ready."
								break
							fi
							echo "$SECONDS seconds elapsed: Waiting for GCS to be ready."
						else
							if ray health-check --address {fqdn}:{port}; then
								echo "GCS is ready. Any error messages above can be safely ignored."
								break
							fi
							echo "$SECONDS seconds elapsed: Still waiting for GCS to be ready. For troubleshooting, refer to the FAQ at https://docs.ray.io/en/master/cluster/kubernetes/troubleshooting.html."
						fi
						sleep 5
					done
				"""
    return {
        "name": "wait-gcs-ready",
        "image": ray.get("image"),
        "command": _bash(),
        "args": [script],
        "env": [dict(e) for e in user_env],
        "volumeMounts": [dict(m) for m in ray.get("volumeMounts") or []],
    }


def _ray_env(user_env: list[dict], head: bool, fqdn: str, port: str, start: str) -> list[dict]:
    """setContainerEnvVars: after the template's own entries."""
    env = [dict(e) for e in user_env]

    def has(name: str) -> bool:
        return any(e.get("name") == name for e in env)

    def field(path: str) -> dict:
        return {"fieldRef": {"fieldPath": path}}

    ip = "127.0.0.1" if head else fqdn
    if not head:
        env += [{"name": "FQ_RAY_IP", "value": ip}, {"name": "RAY_IP", "value": ip.split(".")[0]}]
    env += [
        {"name": "RAY_CLUSTER_NAME", "valueFrom": field(f"metadata.labels['{CLUSTER}']")},
        {"name": "RAY_CLUSTER_NAMESPACE", "valueFrom": field("metadata.namespace")},
        {"name": "RAY_CLOUD_INSTANCE_ID", "valueFrom": field("metadata.name")},
        {"name": "RAY_NODE_TYPE_NAME", "valueFrom": field(f"metadata.labels['{GROUP}']")},
        {"name": "KUBERAY_GEN_RAY_START_CMD", "value": start},
    ]
    if not has("RAY_PORT"):
        env.append({"name": "RAY_PORT", "value": port})
    if not has("RAY_ADDRESS"):
        env.append({"name": "RAY_ADDRESS", "value": f"{ip}:{port}"})
    if not has("RAY_USAGE_STATS_KUBERAY_IN_USE"):
        env.append({"name": "RAY_USAGE_STATS_KUBERAY_IN_USE", "value": "1"})
    if head:
        tags = f"kuberay_version={KUBERAY_VERSION};kuberay_crd=RayJob"
        env.append({"name": "RAY_USAGE_STATS_EXTRA_TAGS", "value": tags})
    if not has("RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE"):
        env.append({"name": "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE", "value": "1"})
    return env


def _version_at_least(version: str, minimum: tuple[int, ...]) -> bool:
    parts = []
    for part in version.split("."):
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            return False
        parts.append(int(digits))
    return tuple(parts) >= minimum


def _readiness(head: bool, params: Mapping[str, str], ray_version: str) -> dict:
    agent = int(params.get("dashboard-agent-listen-port") or DEFAULT_AGENT_PORT)
    if _version_at_least(ray_version, (2, 53, 0)):
        return {"httpGet": {"path": "/api/healthz", "port": agent}, "periodSeconds": 5}
    checks = [WGET.format(timeout=2, port=agent, path="api/local_raylet_healthz")]
    if head:
        dashboard = int(params.get("dashboard-port") or DEFAULT_DASHBOARD_PORT)
        checks.append(WGET.format(timeout=10, port=dashboard, path="api/gcs_healthz"))
    return {"exec": {"command": ["bash", "-c", " && ".join(checks)]}, "periodSeconds": 5}


def _worker_count(group: Mapping) -> int:
    """GetWorkerGroupDesiredReplicas (times numOfHosts)."""
    low = int(group.get("minReplicas") or 0)
    high = group.get("maxReplicas")
    replicas = group.get("replicas")
    count = low if replicas is None or int(replicas) < low else int(replicas)
    if high is not None:
        count = min(count, int(high))
    if group.get("suspend"):
        count = 0
    return count * int(group.get("numOfHosts") or 1)


def _go_quote(text: str) -> str:
    """strconv.Quote for the printable text a JSON document is."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _go_json(value) -> str:
    """encoding/json.Marshal: sorted keys, no spaces, <, > and & escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def submit_command(rayjob: Mapping, runtime_env: object | None) -> str:
    """BuildJobSubmitCommand (K8sJobMode), joined with spaces. `runtime_env` is
    ``runtimeEnvYAML`` already read as data (the shell's YAML reader, not this pure module)."""
    spec = rayjob["spec"]
    address = f"http://{dashboard_url(rayjob)}"
    job_id = job_id_of(rayjob)
    cmd = ["if", "!", "ray", "job", "status", "--address", address, job_id, ">/dev/null", "2>&1"]
    cmd += [";", "then", "ray", "job", "submit", "--address", address, "--no-wait"]
    if runtime_env is not None:
        cmd += ["--runtime-env-json", _go_quote(_go_json(runtime_env))]
    metadata = spec.get("metadata")
    if metadata:
        cmd += ["--metadata-json", _go_quote(_go_json(metadata))]
    if job_id:
        cmd += ["--submission-id", job_id]
    for key, flag in (
        ("entrypointNumCpus", "--entrypoint-num-cpus"),
        ("entrypointNumGpus", "--entrypoint-num-gpus"),
    ):
        if float(spec.get(key) or 0) > 0:
            cmd += [flag, f"{float(spec[key]):f}"]
    if spec.get("entrypointResources"):
        cmd += ["--entrypoint-resources", _go_quote(spec["entrypointResources"])]
    cmd += ["--", (spec.get("entrypoint") or "").strip(), ";", "fi", ";"]
    cmd += ["ray", "job", "logs", "--address", address, "--follow", job_id]
    return " ".join(cmd)


def dashboard_url(rayjob: Mapping) -> str:
    head = (rayjob["spec"].get("rayClusterSpec") or {}).get("headGroupSpec") or {}
    containers = ((head.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    port = DEFAULT_DASHBOARD_PORT
    for declared in containers[0].get("ports") or []:
        if declared.get("name") == "dashboard":
            port = int(declared["containerPort"])
    return f"{head_service(rayjob)}.{_namespace(rayjob)}.svc.{CLUSTER_DOMAIN}:{port}"


def job_id_of(rayjob: Mapping) -> str:
    return rayjob["spec"].get("jobId") or f"{rayjob['metadata']['name']}-{LOCAL_SUFFIX}"


def submitter_job(rayjob: Mapping, runtime_env: object | None) -> dict:
    """The submitter Job (rayjob_controller.go createNewK8sJob), as a batch/v1 Job."""
    spec = rayjob["spec"]
    cluster_spec = spec.get("rayClusterSpec") or {}
    template = (
        copy.deepcopy(spec.get("submitterPodTemplate"))
        if spec.get("submitterPodTemplate")
        else None
    )
    if template is None:
        head = (cluster_spec.get("headGroupSpec") or {}).get("template") or {}
        image = (((head.get("spec") or {}).get("containers") or [{}])[0]).get("image")
        template = {
            "spec": {
                "containers": [{"name": "ray-job-submitter", "image": image}],
                "restartPolicy": "Never",
            }
        }
    container = template["spec"]["containers"][0]
    if not container.get("command"):
        container["command"] = _bash("e")
        container["args"] = [submit_command(rayjob, runtime_env)]
    container["env"] = [
        *(container.get("env") or []),
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "RAY_DASHBOARD_ADDRESS", "value": dashboard_url(rayjob)},
        {"name": "RAY_JOB_SUBMISSION_ID", "value": job_id_of(rayjob)},
    ]
    backoff = (spec.get("submitterConfig") or {}).get("backoffLimit")
    name = rayjob["metadata"]["name"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": _namespace(rayjob),
            "labels": {
                ORIGINATED_FROM_NAME: name,
                ORIGINATED_FROM_CRD: "RayJob",
                CREATED_BY: "kuberay-operator",
            },
        },
        "spec": {
            "backoffLimit": SUBMITTER_BACKOFF_LIMIT if backoff is None else int(backoff),
            "template": template,
        },
    }


def cluster_pods(rayjob: Mapping) -> tuple[dict, list[tuple[str, list[dict]]]]:
    """The head pod, and each worker group's pods, in the RayCluster's order."""
    cluster = cluster_name(rayjob)
    cluster_spec = rayjob["spec"].get("rayClusterSpec") or {}
    head_spec = cluster_spec.get("headGroupSpec") or {}
    head = _ray_pod(rayjob, head_spec, "head", HEAD_GROUP, f"{cluster}-head")
    workers = []
    for group in cluster_spec.get("workerGroupSpecs") or []:
        name = group.get("groupName") or "workers"
        pods = [
            _ray_pod(rayjob, group, "worker", name, f"{cluster}-{name}-worker-{index}")
            for index in range(_worker_count(group))
        ]
        workers.append((name, pods))
    return head, workers


def workload(rayjob: Mapping, groups: tuple[LocalGroup, ...]) -> LocalWorkload:
    spec = rayjob["spec"]
    return LocalWorkload(
        "RayJob",
        rayjob["metadata"]["name"],
        _namespace(rayjob),
        tuple(g.name for g in groups),
        FailurePolicy(
            scope="workload",
            backoff_limit=int(spec.get("backoffLimit") or 0),
            active_deadline_seconds=spec.get("activeDeadlineSeconds"),
        ),
    )
