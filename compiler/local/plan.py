"""``plan``: compiled objects → the pods the cluster's controllers would create, as LocalPods."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from ..diagnostics import Diagnostic, Location, error
from . import controllers, hosts, kuberay
from .env import EnvError, PodContext, expand_command, resolve_env
from .pods import (
    FailurePolicy,
    LocalContainer,
    LocalGroup,
    LocalPod,
    LocalVolume,
    LocalWorkload,
    Pairs,
    Plan,
    Readiness,
)

#: Secrets and ConfigMaps by name (one local folder holds both), their data as text
Sources = Mapping[str, Mapping[str, str]]

#: the addresses the plan gives pods, in pod order (loopback: every pod is a local process)
POD_RANGE = ipaddress.ip_network("127.77.0.0/16")


@dataclass(frozen=True)
class Node:
    """The machine as the downward API sees it (``spec.nodeName``, ``status.hostIP``, the
    allocatable a ``resourceFieldRef`` limit falls back to)."""

    name: str = "local"
    host_ip: str = "127.0.0.1"
    allocatable: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Draft:
    """A pod manifest on its way to a LocalPod."""

    manifest: dict
    group: str
    start_after_groups: tuple[str, ...] = ()
    #: the manifest the workload was compiled from (its diagnostics' file)
    source: str = ""


def plan(objects: Iterable[Mapping], secrets: Sources, node: Node | None = None) -> Plan:
    """The pods of every workload in `objects` (JobSet, batch/v1 Job, RayJob; Services add DNS
    names; other kinds make no pods), each container's environment resolved with `secrets`.
    Scaling (``--set …count=``) happens before compiling: the plan runs what the objects say.
    A pod whose environment cannot be built (a missing Secret) is a diagnostic, not a pod."""
    node = node or Node()
    objects = [o for o in objects if isinstance(o, Mapping)]
    workloads: list[LocalWorkload] = []
    groups: list[LocalGroup] = []
    drafts: list[_Draft] = []
    diagnostics: list[Diagnostic] = []
    for obj in objects:
        unplannable = _unplannable(obj)
        if unplannable:
            diagnostics.append(error("E702", unplannable, Location(_source(obj))))
            continue
        planned = _plan_object(obj)
        if planned is None:
            continue
        workload, object_groups, object_drafts = planned
        workloads.append(workload)
        groups += object_groups
        source = _source(obj)
        drafts += [dataclasses.replace(d, source=source) for d in object_drafts]
    services = [
        _in_namespace(o)
        for o in objects
        if o.get("kind") == "Service" and o.get("apiVersion") == "v1"
    ]
    services += _controller_services(objects)
    ips = _assign_ips(d.manifest for d in drafts)
    pods_by_group: dict[str, list[str]] = {}
    for draft in drafts:
        pods_by_group.setdefault(draft.group, []).append(draft.manifest["metadata"]["name"])
    pods: list[LocalPod] = []
    for draft in drafts:
        pod, problems = _local_pod(draft, ips, services, secrets, node, pods_by_group)
        diagnostics += problems
        if pod is not None:
            pods.append(pod)
    return Plan(tuple(workloads), tuple(groups), tuple(pods), tuple(diagnostics))


def _source(obj: Mapping) -> str:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get("manifest-compiler/source") or "<compiled objects>"


def _in_namespace(obj: Mapping) -> dict:
    """An object without a namespace lands in kubectl's: ``default`` here, as for the pods."""
    meta = dict(obj.get("metadata") or {})
    meta["namespace"] = meta.get("namespace") or "default"
    return {**obj, "metadata": meta}


def _unplannable(obj: Mapping) -> str:
    """Why the plan cannot be what the controllers would do with `obj` ("" when it can): forms
    `compile` never emits, whose pods come from elsewhere."""
    spec = obj.get("spec") or {}
    name = f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"
    if obj.get("kind") == "RayJob":
        if spec.get("clusterSelector") or not spec.get("rayClusterSpec"):
            return f"{name} runs on an existing RayCluster, which is not on this machine"
        if spec.get("submissionMode", "K8sJobMode") != "K8sJobMode":
            return f"{name}: submissionMode {spec['submissionMode']} (only K8sJobMode is planned)"
    return ""


def _plan_object(obj: Mapping):
    kind, api = obj.get("kind"), str(obj.get("apiVersion", ""))
    if kind == "JobSet" and api.startswith("jobset.x-k8s.io/"):
        return _jobset(obj)
    if kind == "Job" and api == "batch/v1":
        return _batch_job(obj)
    if kind == "RayJob" and api.startswith("ray.io/"):
        return _rayjob(obj)
    return None


def _rayjob(obj: Mapping):
    """The RayCluster's head and workers run until the job ends (service groups); the
    submitter Job starts once every one of them is Ready, as KubeRay waits for the cluster's
    Ready state before it creates the submitter."""
    spec = obj.get("spec") or {}
    runtime_env = yaml.safe_load(spec["runtimeEnvYAML"]) if spec.get("runtimeEnvYAML") else None
    head, workers = kuberay.cluster_pods(obj)
    cluster = kuberay.cluster_name(obj)
    groups = [
        LocalGroup(
            f"{cluster}-head", obj["metadata"]["name"], (head["metadata"]["name"],), service=True
        )
    ]
    drafts = [_Draft(head, groups[0].name)]
    for group_name, pods in workers:
        group = LocalGroup(
            f"{cluster}-{group_name}",
            obj["metadata"]["name"],
            tuple(p["metadata"]["name"] for p in pods),
            service=True,
        )
        groups.append(group)
        drafts += [_Draft(p, group.name) for p in pods]
    submitter = controllers.batch_job(kuberay.submitter_job(obj, runtime_env))
    cluster_groups = tuple(g.name for g in groups)
    groups.append(
        LocalGroup(
            submitter.name,
            obj["metadata"]["name"],
            tuple(p["metadata"]["name"] for p in submitter.pods),
            backoff_limit=submitter.spec.get("backoffLimit"),
        )
    )
    drafts += [_Draft(p, submitter.name, cluster_groups) for p in submitter.pods]
    return kuberay.workload(obj, tuple(groups)), groups, drafts


def _failure_of_job(spec: Mapping) -> FailurePolicy:
    per_index = spec.get("backoffLimitPerIndex")
    backoff = per_index if per_index is not None else spec.get("backoffLimit", 6)
    return FailurePolicy(
        scope="pod",
        backoff_limit=int(backoff),
        fail_on_exit_codes=fail_on_exit_codes(spec),
        active_deadline_seconds=spec.get("activeDeadlineSeconds"),
    )


def fail_on_exit_codes(job_spec: Mapping) -> tuple[int, ...]:
    rules = (job_spec.get("podFailurePolicy") or {}).get("rules") or []
    codes: set[int] = set()
    for rule in rules:
        on_codes = rule.get("onExitCodes") or {}
        if rule.get("action") == "FailJob" and on_codes.get("operator") == "In":
            codes.update(int(c) for c in on_codes.get("values") or [])
    return tuple(sorted(codes))


def _batch_job(obj: Mapping):
    job = controllers.batch_job(obj)
    group = LocalGroup(
        job.name,
        job.name,
        tuple(p["metadata"]["name"] for p in job.pods),
        _parallelism(job.spec),
    )
    workload = LocalWorkload("Job", job.name, job.namespace, (job.name,), _failure_of_job(job.spec))
    return workload, [group], [_Draft(p, job.name) for p in job.pods]


def _parallelism(job_spec: Mapping) -> int | None:
    value = job_spec.get("parallelism")
    if value is None or int(value) >= controllers.completions(job_spec):
        return None
    return int(value)


def _jobset(obj: Mapping):
    meta, spec = obj["metadata"], obj.get("spec") or {}
    jobs = list(controllers.jobset_jobs(obj))
    groups = [
        LocalGroup(
            j.name,
            meta["name"],
            tuple(p["metadata"]["name"] for p in j.pods),
            _parallelism(j.spec),
        )
        for j in jobs
    ]
    waits = _jobset_waits(spec, jobs)
    drafts = [_Draft(p, j.name, waits.get(j.replicated_job, ())) for j in jobs for p in j.pods]
    policy = spec.get("failurePolicy")
    template_spec = jobs[0].spec if jobs else {}
    if policy is not None:
        failure = FailurePolicy(
            scope="workload",
            backoff_limit=int(policy.get("maxRestarts") or 0),
            fail_on_exit_codes=fail_on_exit_codes(template_spec),
            active_deadline_seconds=template_spec.get("activeDeadlineSeconds"),
        )
    else:
        failure = _failure_of_job(template_spec)
    workload = LocalWorkload(
        "JobSet",
        meta["name"],
        meta.get("namespace") or "default",
        tuple(g.name for g in groups),
        failure,
    )
    return workload, groups, drafts


def _jobset_waits(spec: Mapping, jobs: list[controllers.PlannedJob]) -> dict[str, tuple[str, ...]]:
    """Replicated job → the child Jobs whose pods must be Ready first: ``dependsOn`` (JobSet
    v0.12 creates a replicated job's Jobs once its dependencies reach the status), and the
    ``InOrder`` startup policy (each replicated job after the one before it is ready)."""
    by_rjob: dict[str, list[str]] = {}
    for job in jobs:
        by_rjob.setdefault(job.replicated_job, []).append(job.name)
    waits: dict[str, tuple[str, ...]] = {}
    previous: str | None = None
    in_order = (spec.get("startupPolicy") or {}).get("startupPolicyOrder") == "InOrder"
    for rjob in spec.get("replicatedJobs") or []:
        names = [d["name"] for d in rjob.get("dependsOn") or []]
        if in_order and previous is not None:
            names.append(previous)
        waits[rjob["name"]] = tuple(j for n in names for j in by_rjob.get(n, []))
        previous = rjob["name"]
    return waits


def _controller_services(objects: Iterable[Mapping]) -> list[dict]:
    """The Services controllers create that give pods names: JobSet's headless Service."""
    services = []
    for obj in objects:
        if obj.get("kind") == "JobSet" and controllers.dns_hostnames(obj):
            meta = obj["metadata"]
            services.append(
                {
                    "metadata": {
                        "name": controllers.subdomain(obj),
                        "namespace": meta.get("namespace") or "default",
                    },
                    "spec": {"selector": {controllers.JOBSET_NAME: meta["name"]}},
                }
            )
    services += kuberay.services(objects)
    return services


def _assign_ips(manifests: Iterable[Mapping]) -> dict[str, str]:
    addresses = POD_RANGE.hosts()
    next(addresses)  # 127.77.0.1 stays the network's own
    return {m["metadata"]["name"]: str(next(addresses)) for m in manifests}


def _local_pod(
    draft: _Draft,
    ips: Mapping[str, str],
    services: Sequence[Mapping],
    secrets: Sources,
    node: Node,
    pods_by_group: Mapping[str, list[str]],
) -> tuple[LocalPod | None, list[Diagnostic]]:
    manifest = draft.manifest
    meta, spec = manifest["metadata"], manifest.setdefault("spec", {})
    spec.setdefault("nodeName", node.name)
    name, namespace = meta["name"], meta.get("namespace") or "default"
    ip = ips[name]
    context = PodContext(ip, node.host_ip, node.name, node.allocatable)

    def lookup(_kind: str, _namespace: str, source: str) -> Mapping[str, str] | None:
        return secrets.get(source)

    try:
        init = tuple(
            _container(manifest, c, context, lookup) for c in spec.get("initContainers") or []
        )
        main = tuple(_container(manifest, c, context, lookup) for c in spec.get("containers") or [])
        volumes = _volumes(manifest, secrets)
    except EnvError as e:
        return None, [error("E701", f"pod {name}: {e}", Location(draft.source))]
    status = {**manifest, "status": {"podIP": ip}}
    names = [n for pod_ip, forms in hosts.entries([status], services) for n in forms]
    pod = LocalPod(
        name=name,
        namespace=namespace,
        hostname=spec.get("hostname") or name,
        subdomain=spec.get("subdomain"),
        ip=ip,
        dns_names=tuple(dict.fromkeys(names)),
        labels=_pairs(meta.get("labels")),
        annotations=_pairs(meta.get("annotations")),
        init_containers=init,
        containers=main,
        volumes=volumes,
        group=draft.group,
        start_after=tuple(p for g in draft.start_after_groups for p in pods_by_group.get(g, [])),
        restart_policy=spec.get("restartPolicy") or "Always",
    )
    return pod, []


def _pairs(mapping: Mapping | None) -> Pairs:
    return tuple((str(k), str(v)) for k, v in (mapping or {}).items())


def _container(pod: Mapping, container: Mapping, context: PodContext, lookup) -> LocalContainer:
    env = resolve_env(pod, container, context, lookup)
    command, args = expand_command(container, env)
    return LocalContainer(
        name=container["name"],
        argv=tuple(command + args),
        env=tuple(env.items()),
        workdir=container.get("workingDir"),
        readiness=_readiness(container),
    )


def _readiness(container: Mapping) -> Readiness | None:
    probe = container.get("readinessProbe")
    if not probe:
        return None
    period = int(probe.get("periodSeconds") or 10)
    if "tcpSocket" in probe:
        return Readiness(
            tcp_port=_port(container, probe["tcpSocket"].get("port")), period_seconds=period
        )
    if "httpGet" in probe:
        http = probe["httpGet"]
        return Readiness(
            http_port=_port(container, http.get("port")),
            http_path=http.get("path") or "/",
            period_seconds=period,
        )
    if "exec" in probe:
        return Readiness(exec_argv=tuple(probe["exec"].get("command") or ()), period_seconds=period)
    return None


def _port(container: Mapping, port) -> int | None:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


def _volumes(pod: Mapping, secrets: Sources) -> tuple[LocalVolume, ...]:
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    declared = {v["name"]: v for v in spec.get("volumes") or []}
    volumes: list[LocalVolume] = []
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for mount in container.get("volumeMounts") or []:
            volume = declared.get(mount["name"])
            if volume is None:
                continue
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            local_dir = f"claims/{claim}" if claim else f"pods/{name}/{mount['name']}"
            volumes.append(
                LocalVolume(
                    mount_path=mount["mountPath"],
                    local_dir=local_dir,
                    container=container["name"],
                    read_only=bool(mount.get("readOnly")),
                    sub_path=mount.get("subPath") or "",
                    files=_volume_files(volume, secrets),
                )
            )
    return tuple(volumes)


def _volume_files(volume: Mapping, secrets: Sources) -> Pairs:
    """What the kubelet writes into a secret or configMap volume (its keys, or ``items``)."""
    sources: list[Mapping] = []
    if "secret" in volume:
        ref = volume["secret"]
        sources.append({"name": ref.get("secretName"), **ref})
    if "configMap" in volume:
        sources.append(volume["configMap"])
    for projected in (volume.get("projected") or {}).get("sources") or []:
        for key in ("secret", "configMap"):
            if key in projected:
                sources.append(projected[key])
    files: list[tuple[str, str]] = []
    for source in sources:
        data = secrets.get(source.get("name") or "")
        if data is None:
            if source.get("optional"):
                continue
            raise EnvError(f'volume source "{source.get("name")}" not found')
        items = source.get("items")
        if items:
            for item in items:
                if item["key"] in data:
                    files.append((item["path"], data[item["key"]]))
                elif not source.get("optional"):
                    raise EnvError(f'couldn\'t find key {item["key"]} in "{source.get("name")}"')
        else:
            files += sorted(data.items())
    return tuple(files)
