"""What the controllers make of the emitted kinds: JobSet → child Jobs → pods (JobSet v0.12.0
pkg/controllers/jobset_controller.go constructJob, labelAndAnnotateObject), a batch/v1 Job's
Indexed pods (Kubernetes v1.36 pkg/controller/job: job_controller.go manageJob,
indexed_job_utils.go), as pod manifests (plain dicts) with the names, labels, annotations,
hostname, subdomain and env entries those controllers set. Pure."""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# JobSet v0.12.0 api/jobset/v1alpha2/jobset_types.go and pkg/constants/constants.go
JOBSET_NAME = "jobset.sigs.k8s.io/jobset-name"
JOBSET_UID = "jobset.sigs.k8s.io/jobset-uid"
REPLICATED_JOB_NAME = "jobset.sigs.k8s.io/replicatedjob-name"
REPLICATED_JOB_REPLICAS = "jobset.sigs.k8s.io/replicatedjob-replicas"
GLOBAL_REPLICAS = "jobset.sigs.k8s.io/global-replicas"
JOB_INDEX = "jobset.sigs.k8s.io/job-index"
JOB_GLOBAL_INDEX = "jobset.sigs.k8s.io/job-global-index"
JOB_KEY = "jobset.sigs.k8s.io/job-key"
RESTART_ATTEMPT = "jobset.sigs.k8s.io/restart-attempt"
GROUP_NAME = "jobset.sigs.k8s.io/group-name"
GROUP_REPLICAS = "jobset.sigs.k8s.io/group-replicas"
JOB_GROUP_INDEX = "jobset.sigs.k8s.io/job-group-index"
COORDINATOR = "jobset.sigs.k8s.io/coordinator"
EXCLUSIVE_TOPOLOGY = "alpha.jobset.sigs.k8s.io/exclusive-topology"
NODE_SELECTOR_STRATEGY = "alpha.jobset.sigs.k8s.io/node-selector"
DEFAULT_GROUP = "default"  # the CRD's default for replicatedJobs[].groupName

# Kubernetes v1.36: k8s.io/api/batch/v1 types.go; the API server's Job selector labels
# (pkg/registry/batch/job/strategy.go generateSelector); the Job controller's index facts
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"


def object_uid(kind: str, namespace: str, name: str) -> str:
    """A stable stand-in for the uid the API server would give (the plan is deterministic)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"manifest-compiler-local:{kind}/{namespace}/{name}"))


@dataclass(frozen=True)
class PlannedJob:
    """A batch/v1 Job (a JobSet's child, or emitted as is) and its pods' manifests."""

    name: str
    namespace: str
    spec: Mapping
    pods: tuple[dict, ...]
    #: the replicated job it came from (JobSet children), else ""
    replicated_job: str = ""


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # JobSet names its job-key by sha1


def _jobset_facts(jobset: Mapping, rjob: Mapping, job_index: int) -> dict[str, str]:
    """The labels JobSet puts on a child Job and its pod template, also set as annotations."""
    meta, spec = jobset["metadata"], jobset.get("spec") or {}
    namespace = meta.get("namespace") or "default"
    rjobs = spec.get("replicatedJobs") or []
    group = rjob.get("groupName") or DEFAULT_GROUP
    job_name = f"{meta['name']}-{rjob['name']}-{job_index}"
    before = _replicas_before(rjobs, rjob["name"], lambda _r: True)
    in_group_before = _replicas_before(rjobs, rjob["name"], lambda r: _group(r) == group)
    facts = {
        JOBSET_NAME: meta["name"],
        JOBSET_UID: object_uid("JobSet", namespace, meta["name"]),
        REPLICATED_JOB_NAME: rjob["name"],
        RESTART_ATTEMPT: "0",
        REPLICATED_JOB_REPLICAS: str(_replicas(rjob)),
        GLOBAL_REPLICAS: str(sum(_replicas(r) for r in rjobs)),
        JOB_INDEX: str(job_index),
        JOB_KEY: _sha1(f"{namespace}/{job_name}"),
        JOB_GLOBAL_INDEX: str(before + job_index),
        GROUP_NAME: group,
        GROUP_REPLICAS: str(sum(_replicas(r) for r in rjobs if _group(r) == group)),
        JOB_GROUP_INDEX: str(in_group_before + job_index),
    }
    coordinator = spec.get("coordinator")
    if coordinator:
        facts[COORDINATOR] = (
            f"{meta['name']}-{coordinator['replicatedJob']}-{coordinator.get('jobIndex', 0)}-"
            f"{coordinator.get('podIndex', 0)}.{subdomain(jobset)}"
        )
    return facts


def _add_claim_volumes(jobset: Mapping, pod_spec: dict) -> None:
    """volumeClaimPolicies (volume_claim_policy.go addVolumes): each template a container mounts
    becomes a volume of the PVC ``<template>-<jobset>`` that JobSet creates."""
    mounted = {
        m.get("name")
        for c in [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]
        for m in c.get("volumeMounts") or []
    }
    for policy in (jobset.get("spec") or {}).get("volumeClaimPolicies") or []:
        for claim in policy.get("templates") or []:
            name = (claim.get("metadata") or {}).get("name")
            if name in mounted:
                pod_spec.setdefault("volumes", []).append(
                    {
                        "name": name,
                        "persistentVolumeClaim": {
                            "claimName": f"{name}-{jobset['metadata']['name']}"
                        },
                    }
                )


def _exclusive_placement(jobset: Mapping, rjob: Mapping) -> dict[str, str]:
    """The exclusive-placement annotations JobSet copies onto a child Job's pods (annotations
    only, not labels): the JobSet's, then the replicated job template's, which wins."""
    found: dict[str, str] = {}
    job_template_meta = (rjob.get("template") or {}).get("metadata") or {}
    for source in (jobset["metadata"].get("annotations"), job_template_meta.get("annotations")):
        source = source or {}
        if EXCLUSIVE_TOPOLOGY in source:
            found[EXCLUSIVE_TOPOLOGY] = source[EXCLUSIVE_TOPOLOGY]
            if NODE_SELECTOR_STRATEGY in source:
                found[NODE_SELECTOR_STRATEGY] = source[NODE_SELECTOR_STRATEGY]
    return found


def _group(rjob: Mapping) -> str:
    return rjob.get("groupName") or DEFAULT_GROUP


def _replicas(rjob: Mapping) -> int:
    replicas = rjob.get("replicas")
    return 1 if replicas is None else int(replicas)


def _replicas_before(rjobs, name: str, counted) -> int:
    total = 0
    for rjob in rjobs:
        if rjob["name"] == name:
            return total
        if counted(rjob):
            total += _replicas(rjob)
    return total


def dns_hostnames(jobset: Mapping) -> bool:
    """``network.enableDNSHostnames`` (the JobSet webhook turns it on when ``network`` is unset)."""
    network = (jobset.get("spec") or {}).get("network")
    if network is None:
        return True
    return bool(network.get("enableDNSHostnames"))


def subdomain(jobset: Mapping) -> str:
    network = (jobset.get("spec") or {}).get("network") or {}
    return network.get("subdomain") or jobset["metadata"]["name"]


def jobset_jobs(jobset: Mapping) -> Iterator[PlannedJob]:
    """Every child Job, in replicated-job order then job index, with its pods."""
    meta = jobset["metadata"]
    namespace = meta.get("namespace") or "default"
    for rjob in (jobset.get("spec") or {}).get("replicatedJobs") or []:
        for job_index in range(_replicas(rjob)):
            facts = _jobset_facts(jobset, rjob, job_index)
            job_spec = copy.deepcopy((rjob.get("template") or {}).get("spec") or {})
            template = job_spec.setdefault("template", {})
            template_meta = template.setdefault("metadata", {})
            template_meta["labels"] = {**(template_meta.get("labels") or {}), **facts}
            template_meta["annotations"] = {
                **(template_meta.get("annotations") or {}),
                **facts,
                **_exclusive_placement(jobset, rjob),
            }
            if dns_hostnames(jobset):
                template.setdefault("spec", {})["subdomain"] = subdomain(jobset)
            _add_claim_volumes(jobset, template.setdefault("spec", {}))
            job_name = f"{meta['name']}-{rjob['name']}-{job_index}"
            yield PlannedJob(
                job_name,
                namespace,
                job_spec,
                job_pods(job_name, namespace, job_spec),
                rjob["name"],
            )


def batch_job(job: Mapping) -> PlannedJob:
    meta = job["metadata"]
    namespace = meta.get("namespace") or "default"
    spec = job.get("spec") or {}
    return PlannedJob(meta["name"], namespace, spec, job_pods(meta["name"], namespace, spec))


def indexed(spec: Mapping) -> bool:
    return spec.get("completionMode") == "Indexed"


def completions(spec: Mapping) -> int:
    """``completions``, defaulting as the API server does: to ``parallelism``, else 1."""
    value = spec.get("completions")
    if value is None:
        value = spec.get("parallelism")
    return 1 if value is None else int(value)


def job_pods(job_name: str, namespace: str, spec: Mapping) -> tuple[dict, ...]:
    """The pods the Job controller creates for a Job, one per completion index (an Indexed
    Job) or ``completions`` of them (NonIndexed), named as their generateName gives them
    (without the API server's random suffix)."""
    template = spec.get("template") or {}
    uid = object_uid("Job", namespace, job_name)
    selector = {
        CONTROLLER_UID: uid,
        JOB_NAME: job_name,
        LEGACY_CONTROLLER_UID: uid,
        LEGACY_JOB_NAME: job_name,
    }
    pods = []
    for index in range(completions(spec)):
        pod = copy.deepcopy(dict(template))
        meta = pod.setdefault("metadata", {})
        pod_spec = pod.setdefault("spec", {})
        meta["labels"] = {**(meta.get("labels") or {}), **selector}
        meta["annotations"] = dict(meta.get("annotations") or {})
        meta["namespace"] = namespace
        if indexed(spec):
            meta["annotations"][COMPLETION_INDEX] = str(index)
            meta["labels"][COMPLETION_INDEX] = str(index)
            pod_spec["hostname"] = f"{job_name}-{index}"
            if spec.get("backoffLimitPerIndex") is not None:
                meta["annotations"][INDEX_FAILURE_COUNT] = "0"
            for key in ("initContainers", "containers"):
                pod_spec[key] = [_with_index_env(c) for c in pod_spec.get(key) or []]
            meta["name"] = f"{job_name}-{index}"
        else:
            meta["name"] = f"{job_name}-{index}" if completions(spec) > 1 else job_name
        meta["uid"] = object_uid("Pod", namespace, meta["name"])
        pods.append(pod)
    return tuple(pods)


def _with_index_env(container: Mapping) -> dict:
    """The Job controller appends JOB_COMPLETION_INDEX unless the container defines it."""
    container = dict(container)
    env = list(container.get("env") or [])
    if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
        path = f"metadata.labels['{COMPLETION_INDEX}']"
        env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": path}}})
    container["env"] = env
    return container
