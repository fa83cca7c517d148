"""Operator contracts (SPEC 5): what each pod of each example is told, computed from the emitted
objects the way the controllers will: JobSet's annotations (global index = replicas of the earlier
replicated jobs + job index), the Job controller's completion index, and Kubernetes' `$(VAR)`
expansion of env values. Nothing here restates the emitter's code; the expected values come from
the manifests and from upstream rules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml

JS = "jobset.sigs.k8s.io/"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
_FIELD_PATH = re.compile(r"^metadata\.(annotations|labels)\['([^']+)'\]$")
_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


# ---------------------------------------------------------------------------------------------
# the controllers' rules, from upstream


def jobset_annotations(jobset: dict, rjob_name: str, job_index: int) -> dict:
    """What the JobSet controller puts on a child Job's pods (jobset_controller.go)."""
    rjobs = jobset["spec"]["replicatedJobs"]
    position = [r["name"] for r in rjobs].index(rjob_name)
    earlier = sum(r["replicas"] for r in rjobs[:position])
    return {
        JS + "jobset-name": jobset["metadata"]["name"],
        JS + "replicatedjob-name": rjob_name,
        JS + "replicatedjob-replicas": str(rjobs[position]["replicas"]),
        JS + "job-index": str(job_index),
        JS + "job-global-index": str(earlier + job_index),
        JS + "global-replicas": str(sum(r["replicas"] for r in rjobs)),
    }


def expand(value: str, defined: dict) -> str:
    """Kubernetes' $(VAR) expansion: only variables defined earlier; $$ is a literal $."""

    def replace(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return defined[name] if name in defined else match.group(0)

    return _VAR_REF.sub(replace, value)


def container_env(container: dict, pod_metadata: dict) -> dict:
    """The environment a container starts with; a Secret's value shows as secret:<name>/<key>."""
    env: dict = {}
    if COMPLETION_INDEX in pod_metadata.get("annotations", {}):
        env["JOB_COMPLETION_INDEX"] = pod_metadata["annotations"][COMPLETION_INDEX]
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = expand(entry["value"], env)
        elif "fieldRef" in entry.get("valueFrom", {}):
            where, key = _FIELD_PATH.match(entry["valueFrom"]["fieldRef"]["fieldPath"]).groups()
            env[entry["name"]] = pod_metadata.get(where, {}).get(key)
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = f"secret:{ref['name']}/{ref['key']}"
    return env


def jobset_pods(jobset: dict):
    """Every pod the JobSet will run: (rjob name, job index, completion index, pod metadata, pod spec)."""
    for rjob in jobset["spec"]["replicatedJobs"]:
        job = rjob["template"]["spec"]
        template = job["template"]
        for job_index in range(rjob["replicas"]):
            for completion in range(job["completions"]):
                annotations = {
                    **template.get("metadata", {}).get("annotations", {}),
                    **jobset_annotations(jobset, rjob["name"], job_index),
                    COMPLETION_INDEX: str(completion),
                }
                metadata = {
                    "labels": {**template.get("metadata", {}).get("labels", {}), **annotations},
                    "annotations": annotations,
                }
                yield rjob["name"], job_index, completion, metadata, template["spec"]


def pod_envs(jobset: dict) -> list[dict]:
    return [
        container_env(spec["containers"][0], metadata)
        for _, _, _, metadata, spec in jobset_pods(jobset)
    ]


def hostname(jobset: dict, rjob: str, job_index: int = 0, pod_index: int = 0) -> str:
    """JobSet's DNS name of a pod: <jobset>-<rjob>-<jobIndex>-<podIndex>.<subdomain>."""
    network = jobset["spec"]["network"]
    assert network["enableDNSHostnames"] is True
    subdomain = network.get("subdomain", jobset["metadata"]["name"])
    return f"{jobset['metadata']['name']}-{rjob}-{job_index}-{pod_index}.{subdomain}"


# ---------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
def objects_of(compiled, example_path):
    def objects(stem: str, *extra: str) -> dict:
        """kind -> the one object of that kind (a test that expects two asks for a list)."""
        by_kind: dict = {}
        for obj in compiled(example_path(stem), *extra):
            assert obj["kind"] not in by_kind, f"two {obj['kind']} objects"
            by_kind[obj["kind"]] = obj
        return by_kind

    return objects


@pytest.fixture
def manifest_of(example_path):
    def manifest(stem: str) -> dict:
        return yaml.safe_load(example_path(stem).read_text(encoding="utf-8"))

    return manifest


def rjobs(jobset: dict) -> dict:
    return {r["name"]: r for r in jobset["spec"]["replicatedJobs"]}


def pod_spec(rjob: dict) -> dict:
    return rjob["template"]["spec"]["template"]["spec"]


def only_container(template_spec: dict) -> dict:
    [container] = template_spec["containers"]
    return container


# ---------------------------------------------------------------------------------------------
# jobset: the multi-jobs demo


def test_heavy_then_workers_gives_two_replicated_jobs_in_type_order(objects_of):
    jobset = objects_of("jobset-heavy-and-workers")["JobSet"]
    assert [(r["name"], r["replicas"]) for r in jobset["spec"]["replicatedJobs"]] == [
        ("worker-heavy", 1),
        ("worker", 7),
    ]
    for rjob in jobset["spec"]["replicatedJobs"]:
        job = rjob["template"]["spec"]
        assert (job["completionMode"], job["completions"], job["parallelism"]) == ("Indexed", 1, 1)


def test_heavy_then_workers_global_index_and_replicas(objects_of):
    jobset = objects_of("jobset-heavy-and-workers")["JobSet"]
    seen = [
        (
            env["REPLICATED_JOB_NAME"],
            env["JOB_INDEX"],
            env["JOB_GLOBAL_INDEX"],
            env["GLOBAL_REPLICAS"],
            env["REPLICATED_JOB_REPLICAS"],
        )
        for env in pod_envs(jobset)
    ]
    assert len(seen) == 8, "8 Jobs of one pod"
    assert seen[0] == ("worker-heavy", "0", "0", "8", "1")
    assert seen[1:] == [("worker", str(i), str(i + 1), "8", "7") for i in range(7)]


def test_every_jobset_container_reads_the_indices_from_jobset_annotations(objects_of):
    jobset = objects_of("jobset-five-workers")["JobSet"]
    env = only_container(pod_spec(jobset["spec"]["replicatedJobs"][0]))["env"]
    paths = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in env if "valueFrom" in e}
    assert paths == {
        "JOB_INDEX": f"metadata.annotations['{JS}job-index']",
        "JOB_GLOBAL_INDEX": f"metadata.annotations['{JS}job-global-index']",
        "REPLICATED_JOB_NAME": f"metadata.annotations['{JS}replicatedjob-name']",
        "REPLICATED_JOB_REPLICAS": f"metadata.annotations['{JS}replicatedjob-replicas']",
        "GLOBAL_REPLICAS": f"metadata.annotations['{JS}global-replicas']",
    }
    assert [(e["JOB_INDEX"], e["JOB_GLOBAL_INDEX"]) for e in pod_envs(jobset)] == [
        (str(i), str(i)) for i in range(5)
    ]


@pytest.mark.parametrize(
    "stem, parallelism", [("jobset-10x10-two-at-a-time", 2), ("jobset-10x10-all-at-once", 10)]
)
def test_count_completions_parallelisms(objects_of, stem, parallelism):
    jobset = objects_of(stem)["JobSet"]
    [rjob] = jobset["spec"]["replicatedJobs"]
    job = rjob["template"]["spec"]
    assert (rjob["replicas"], job["completionMode"], job["completions"], job["parallelism"]) == (
        10,
        "Indexed",
        10,
        parallelism,
    )
    pods = [(int(env["JOB_INDEX"]), int(env["JOB_COMPLETION_INDEX"])) for env in pod_envs(jobset)]
    assert pods == [(i, c) for i in range(10) for c in range(10)], (
        "every pod of Job i shares JOB_INDEX=i"
    )


def test_the_ten_workers_resources_and_kueue_labels(objects_of):
    jobset = objects_of("jobset-ten-workers")["JobSet"]
    assert only_container(pod_spec(jobset["spec"]["replicatedJobs"][0]))["resources"] == {
        "requests": {"cpu": "20", "memory": "40Gi"},
        "limits": {"cpu": "40", "memory": "40Gi"},
    }
    labels = jobset["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "team-b"
    assert labels["kueue.x-k8s.io/priority-class"] == "low"
    assert jobset["spec"]["ttlSecondsAfterFinished"] == 3600


# ---------------------------------------------------------------------------------------------
# resources


def test_memory_is_cpus_times_ram_ratio_and_cpu_limit_cpus_times_ratio(objects_of, manifest_of):
    jobset = objects_of("jobset-heavy-and-workers")["JobSet"]
    types = manifest_of("jobset-heavy-and-workers")["spec"]["types"]
    heavy = only_container(pod_spec(rjobs(jobset)["worker-heavy"]))["resources"]
    assert types["worker-heavy"]["resources"] == {"cpus": 60, "ramRatio": 2}
    assert heavy == {
        "requests": {"cpu": "60", "memory": "120Gi"},
        "limits": {"cpu": "120", "memory": "120Gi"},
    }


def test_half_a_cpu_is_500m_and_the_limit_follows_cpu_limit_ratio(objects_of):
    jobset = objects_of("jobset-10x10-two-at-a-time")["JobSet"]
    resources = only_container(pod_spec(jobset["spec"]["replicatedJobs"][0]))["resources"]
    assert resources == {
        "requests": {"cpu": "500m", "memory": "2Gi"},
        "limits": {"cpu": "750m", "memory": "2Gi"},
    }


def test_memory_in_gb_with_api_version_0_2_3(objects_of, manifest_of):
    manifest = manifest_of("jax-tpu")
    assert (
        manifest["apiVersion"] == "0.2.3"
        and manifest["spec"]["types"]["worker"]["resources"]["memory"] == 160
    )
    jobset = objects_of("jax-tpu")["JobSet"]
    resources = only_container(pod_spec(jobset["spec"]["replicatedJobs"][0]))["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == "160Gi"
    assert (resources["requests"]["cpu"], resources["limits"]["cpu"]) == ("24", "48")


# ---------------------------------------------------------------------------------------------
# pytorch, xgboost, jax, tf


def test_pytorch_master_first_and_rendezvous_env(objects_of):
    jobset = objects_of("pytorch-gpu-rdma")["JobSet"]
    assert [(r["name"], r["replicas"]) for r in jobset["spec"]["replicatedJobs"]] == [
        ("master", 1),
        ("worker", 3),
    ]
    envs = pod_envs(jobset)
    assert len(envs) == 4, "one pod per Job"
    master = hostname(jobset, "master")
    assert {(e["MASTER_ADDR"], e["MASTER_PORT"], e["WORLD_SIZE"]) for e in envs} == {
        (master, "23456", "4")
    }
    assert [e["RANK"] for e in envs] == ["0", "1", "2", "3"], "the master is rank 0"
    assert {e["HF_TOKEN"] for e in envs} == {"secret:huggingface/token"}
    assert {e["NCCL_DEBUG"] for e in envs} == {"INFO"}


def test_pytorch_gpus_rdma_shm_secrets_and_pvcs(objects_of):
    jobset = objects_of("pytorch-gpu-rdma")["JobSet"]
    for rjob in jobset["spec"]["replicatedJobs"]:
        template = rjob["template"]["spec"]["template"]
        spec = template["spec"]
        container = only_container(spec)
        resources = container["resources"]
        assert (
            resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == "8"
        )
        assert resources["limits"]["cpu"] == "96", "cpuLimitRatio 1"
        assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
            "tolerations"
        ]
        assert (
            template["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]
            == "sriov_a,sriov_b,sriov_c,sriov_d"
        )
        assert "IPC_LOCK" in container["securityContext"]["capabilities"]["add"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert volumes[mounts["/dev/shm"]["name"]]["emptyDir"] == {
            "medium": "Memory",
            "sizeLimit": "64Gi",
        }
        assert volumes[mounts["/var/run/secrets/s3"]["name"]]["secret"] == {
            "secretName": "s3-credentials"
        }
        assert mounts["/var/run/secrets/s3"]["readOnly"] is True
        assert volumes[mounts["/data"]["name"]]["persistentVolumeClaim"] == {
            "claimName": "datasets"
        }
        assert rjob["template"]["spec"]["backoffLimit"] == 0, "the gang restarts, not one pod"
        assert rjob["template"]["spec"]["activeDeadlineSeconds"] == 3 * 86400
    assert jobset["spec"]["failurePolicy"]["maxRestarts"] == 2, "restartPolicy.backoffLimit"


def _prelude_and_command(container: dict) -> tuple[str, str]:
    shell, flag, script = container["command"]
    assert (shell, flag) == ("/bin/sh", "-c")
    prelude, _, command = script.rpartition("\n")
    return prelude, command


def _run_sh(script: str) -> str:
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_xgboost_env_and_worker_addrs_computed_by_the_shell_prelude(objects_of, manifest_of):
    jobset = objects_of("xgboost-dist")["JobSet"]
    assert [(r["name"], r["replicas"]) for r in jobset["spec"]["replicatedJobs"]] == [
        ("master", 1),
        ("worker", 4),
    ]
    envs = pod_envs(jobset)
    assert {
        (e["MASTER_ADDR"], e["MASTER_PORT"], e["WORKER_PORT"], e["WORLD_SIZE"]) for e in envs
    } == {(hostname(jobset, "master"), "9999", "9999", "5")}
    assert [e["RANK"] for e in envs] == [str(i) for i in range(5)]
    expected = ",".join(hostname(jobset, "worker", i) for i in range(4))
    for rjob in jobset["spec"]["replicatedJobs"]:
        prelude, command = _prelude_and_command(only_container(pod_spec(rjob)))
        assert command == manifest_of("xgboost-dist")["spec"]["command"]
        assert _run_sh(prelude + '\nprintf %s "$WORKER_ADDRS"') == expected
        assert _run_sh(prelude + "\nsh -c 'printf %s \"$WORKER_ADDRS\"'") == expected, (
            "WORKER_ADDRS is exported"
        )


def test_xgboost_workers_start_once_the_masters_tracker_is_ready(objects_of):
    """issue 21 item 2: xgboost's workers exit when the tracker is unreachable (socket.cc: a
    failed getaddrinfo is not retried, a few connects), so JobSet creates the workers' Jobs only
    once the master's are Ready (dependsOn, JobSet >= v0.8: Ready + Succeeded + Failed Jobs =
    replicas), and the master is Ready when its tracker accepts connections on MASTER_PORT."""
    jobset = objects_of("xgboost-dist")["JobSet"]
    master, worker = jobset["spec"]["replicatedJobs"]
    assert "dependsOn" not in master  # the first replicated job may not depend on one
    assert worker["dependsOn"] == [{"name": "master", "status": "Ready"}]
    assert "startupPolicy" not in jobset["spec"]  # exclusive with dependsOn (JobSet's CEL rule)
    probe = only_container(pod_spec(master))["readinessProbe"]
    assert probe["tcpSocket"] == {"port": 9999}
    assert probe["periodSeconds"] <= 2
    assert "readinessProbe" not in only_container(pod_spec(worker))
    for other in ("pytorch-gpu-rdma", "jobset-heavy-and-workers"):
        for rjob in objects_of(other)["JobSet"]["spec"]["replicatedJobs"]:
            assert "dependsOn" not in rjob
            assert "readinessProbe" not in only_container(pod_spec(rjob))


def test_xgboost_ports_labels_and_annotations(objects_of):
    """The tracker port is the master's: the Service selects the master pod only (with the labels
    JobSet's controller puts on it, jobset_controller.go labelAndAnnotateObject), and only the
    master's container declares the port."""
    objects = objects_of("xgboost-dist")
    jobset, service = objects["JobSet"], objects["Service"]
    assert service["spec"]["ports"] == [
        {"name": "tracker", "port": 30091, "targetPort": 9091, "protocol": "TCP"}
    ]
    selected = []
    for rjob in jobset["spec"]["replicatedJobs"]:
        template = rjob["template"]["spec"]["template"]
        pod_labels = {
            **template["metadata"]["labels"],
            JS + "replicatedjob-name": rjob["name"],
            JS + "jobset-name": jobset["metadata"]["name"],
        }
        if service["spec"]["selector"].items() <= pod_labels.items():
            selected.append(rjob["name"])
            assert only_container(template["spec"])["ports"] == [
                {"name": "tracker", "containerPort": 9091, "protocol": "TCP"}
            ]
        else:
            assert "ports" not in only_container(template["spec"])
        assert {"team": "tabular", "cost-center": "4711"}.items() <= pod_labels.items()
        assert (
            template["metadata"]["annotations"]["example.com/owner"] == "data-science@example.com"
        )
    assert selected == ["master"], "the Service selects the pods that listen"


def test_jax_coordinator_processes_and_tpu(objects_of):
    """A 4x4 v5e slice with 4 chips a pod is one 4-host slice: one Job of 4 pods (replicas =
    slices, completions = parallelism = hosts), as JobSet's exclusive-placement example
    (site/static/examples/simple/exclusive-placement.yaml) and xpk lay TPU slices out."""
    jobset = objects_of("jax-tpu")["JobSet"]
    [rjob] = jobset["spec"]["replicatedJobs"]
    job = rjob["template"]["spec"]
    assert (rjob["replicas"], job["completions"], job["parallelism"]) == (1, 4, 4)
    assert (
        jobset["metadata"]["annotations"]["alpha.jobset.sigs.k8s.io/exclusive-topology"]
        == "cloud.google.com/gke-nodepool"
    )
    envs = pod_envs(jobset)
    assert {
        (e["JAXOPERATOR_COORDINATOR_ADDRESS"], e["JAXOPERATOR_NUM_PROCESSES"]) for e in envs
    } == {(hostname(jobset, "worker") + ":1234", "4")}
    prelude, _ = _prelude_and_command(only_container(pod_spec(rjob)))
    ids = [
        _run_sh(
            f"JOB_INDEX={e['JOB_INDEX']}; JOB_COMPLETION_INDEX={e['JOB_COMPLETION_INDEX']}\n"
            + prelude
            + '\nprintf %s "$JAXOPERATOR_PROCESS_ID"'
        )
        for e in envs
    ]
    assert ids == ["0", "1", "2", "3"]
    spec = pod_spec(rjob)
    resources = only_container(spec)["resources"]
    assert resources["requests"]["google.com/tpu"] == resources["limits"]["google.com/tpu"] == "4"
    assert spec["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "4x4",
        "cloud.google.com/gke-spot": "true",
    }
    assert spec["tolerations"] == [
        {"key": "google.com/tpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ]


def test_tf_config_for_three_workers_is_json_with_the_task_index(objects_of):
    jobset = objects_of("tf-three-workers")["JobSet"]
    [rjob] = jobset["spec"]["replicatedJobs"]
    raw = {e["name"]: e for e in only_container(pod_spec(rjob))["env"]}
    assert "$(TF_TASK_INDEX)" in raw["TF_CONFIG"]["value"]
    names = [e["name"] for e in only_container(pod_spec(rjob))["env"]]
    assert names.index("TF_TASK_INDEX") < names.index("TF_CONFIG"), (
        "Kubernetes expands only earlier variables"
    )
    workers = [f"{hostname(jobset, 'worker', i)}:2222" for i in range(3)]
    for index, env in enumerate(pod_envs(jobset)):
        config = json.loads(env["TF_CONFIG"])
        assert config == {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }


def test_tf_config_is_absent_for_a_single_worker(objects_of):
    jobset = objects_of("tf-three-workers", "--set", "spec.types.Worker.count=1")["JobSet"]
    [env] = pod_envs(jobset)
    assert "TF_CONFIG" not in env


def test_graceful_termination(objects_of):
    jobset = objects_of("tf-three-workers")["JobSet"]
    spec = pod_spec(jobset["spec"]["replicatedJobs"][0])
    assert spec["terminationGracePeriodSeconds"] == 120
    assert only_container(spec)["lifecycle"] == {
        "preStop": {"exec": {"command": ["/bin/sh", "-c", "python -u save_checkpoint.py"]}}
    }
    shm = {v["name"]: v for v in spec["volumes"]}["dshm"]
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}


# ---------------------------------------------------------------------------------------------
# kuberay, ray


def test_kuberay_worker_groups_have_fixed_size(objects_of, manifest_of):
    rayjob = objects_of("kuberay-cpu-gpu")["RayJob"]
    manifest = manifest_of("kuberay-cpu-gpu")
    groups = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    expected = [(w["name"], w["count"]) for w in manifest["spec"]["types"]["Workers"]]
    assert [(g["groupName"], g["replicas"]) for g in groups] == expected
    for group in groups:
        assert group["replicas"] == group["minReplicas"] == group["maxReplicas"]
    gpu = only_container(groups[1]["template"]["spec"])
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert groups[1]["template"]["spec"]["nodeSelector"] == {
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"
    }


def test_kuberay_job_fields(objects_of, manifest_of):
    rayjob = objects_of("kuberay-cpu-gpu")["RayJob"]
    spec = manifest_of("kuberay-cpu-gpu")["spec"]
    job = rayjob["spec"]
    assert yaml.safe_load(job["runtimeEnvYAML"]) == spec["runtimeEnv"]
    assert job["entrypoint"].startswith("/bin/sh -c ")
    assert job["shutdownAfterJobFinishes"] is True
    assert job["jobId"] == spec["jobId"]
    assert job["activeDeadlineSeconds"] == 12 * 3600
    assert job["rayClusterSpec"]["rayVersion"] == spec["rayVersion"]
    head_params = job["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]
    assert spec["types"]["Head"]["rayStartParams"].items() <= head_params.items()
    assert all(isinstance(v, str) for v in head_params.values()), (
        "rayStartParams values are strings"
    )


def test_kuberay_shared_volume_is_a_claim_every_pod_mounts(objects_of):
    objects = objects_of("kuberay-cpu-gpu")
    claim, rayjob = objects["PersistentVolumeClaim"], objects["RayJob"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    cluster = rayjob["spec"]["rayClusterSpec"]
    for template in [cluster["headGroupSpec"]["template"]] + [
        g["template"] for g in cluster["workerGroupSpecs"]
    ]:
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        [mount] = [
            m
            for m in only_container(template["spec"])["volumeMounts"]
            if m["mountPath"] == "/mnt/results"
        ]
        assert volumes[mount["name"]]["persistentVolumeClaim"] == {
            "claimName": claim["metadata"]["name"]
        }


def test_legacy_ray_job_type_sizes_the_submitter(objects_of):
    rayjob = objects_of("ray-legacy")["RayJob"]
    submitter = rayjob["spec"]["submitterPodTemplate"]["spec"]
    assert submitter["restartPolicy"] == "Never"
    assert only_container(submitter)["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    [group] = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert (group["groupName"], group["replicas"], group["minReplicas"], group["maxReplicas"]) == (
        "cpu-workers",
        3,
        3,
        3,
    )
    assert rayjob["spec"]["activeDeadlineSeconds"] == 7200


# ---------------------------------------------------------------------------------------------
# batchjob, shared volumes


def test_batchjob_is_one_indexed_job(objects_of):
    objects = objects_of("batchjob-indexed")
    job, claim = objects["Job"], objects["PersistentVolumeClaim"]
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 8, 4)
    assert (spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (90 * 60, 86400)
    template = spec["template"]
    container = only_container(template["spec"])
    assert template["spec"]["restartPolicy"] == "Never"
    for index in range(8):
        env = container_env(container, {"annotations": {COMPLETION_INDEX: str(index)}})
        assert env["JOB_COMPLETION_INDEX"] == str(index)
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volumes[mounts["/scratch"]]["persistentVolumeClaim"] == {
        "claimName": claim["metadata"]["name"]
    }
    assert volumes[mounts["/corpus"]]["persistentVolumeClaim"] == {"claimName": "raw-corpus"}
    assert volumes[mounts["/var/secrets/gcs"]]["secret"] == {"secretName": "gcs-service-account"}
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "cephfs",
    }


def test_jobset_shared_volume_is_a_volume_claim_policy(objects_of):
    objects = objects_of("jobset-10x10-all-at-once")
    assert set(objects) == {"JobSet"}, "JobSet creates the claim itself"
    jobset = objects["JobSet"]
    [policy] = jobset["spec"]["volumeClaimPolicies"]
    [template] = policy["templates"]
    assert template["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert template["spec"]["storageClassName"] == "cephfs"
    spec = pod_spec(jobset["spec"]["replicatedJobs"][0])
    mounts = {m["mountPath"]: m["name"] for m in only_container(spec)["volumeMounts"]}
    assert mounts["/mnt/shared"] == template["metadata"]["name"]
    assert template["metadata"]["name"] not in {v["name"] for v in spec.get("volumes", [])}


# ---------------------------------------------------------------------------------------------
# SPEC 7: the output does not grow with count

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _shape(text: str) -> str:
    return re.sub(r"\d+", "N", _DIGEST.sub("sha256:DIGEST", text))


# tf is not here: SPEC 5 has TF_CONFIG list every worker (for Kubernetes' $(VAR) expansion), so its
# output grows with the worker count.
@pytest.mark.parametrize(
    "stem, count_path",
    [
        ("jobset-10x10-two-at-a-time", "spec.types.worker.count"),
        ("jobset-10x10-two-at-a-time", "spec.types.worker.completions"),
        ("pytorch-gpu-rdma", "spec.types.Worker.count"),
        ("xgboost-dist", "spec.types.Worker.count"),
        ("jax-tpu", "spec.types.worker.count"),  # 4-host slices: 12 and 100000 are whole slices
        ("kuberay-cpu-gpu", "spec.types.Workers.cpu-workers.count"),
        ("batchjob-indexed", "spec.types.Worker.completions"),
    ],
)
def test_output_for_10_and_100000_differs_only_in_the_digits(
    compile_cli, example_path, stem, count_path
):
    manifest = str(
        example_path(stem)
    )  # without the example policies, whose totals would refuse 100000
    counts = (12, 100000) if stem == "jax-tpu" else (10, 100000)
    small, large = (compile_cli("--set", f"{count_path}={n}", manifest) for n in counts)
    assert small.exit_code == large.exit_code == 0, small.stderr + large.stderr
    assert "100000" in large.stdout
    assert _shape(small.stdout) == _shape(large.stdout)
    assert abs(len(large.stdout) - len(small.stdout)) <= 100, (
        "a few numbers grew by 4 digits, nothing else"
    )


# ---------------------------------------------------------------------------------------------
# names Kubernetes derives from user input

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

CLAIMS_MANIFEST = """\
kind: AIchorManifest
apiVersion: 0.2.2
spec:
  operator: batchjob
  image: img
  command: "true"
  storage:
    attachExistingPVCs:
      - {name: data.v1, mountPoint: /data}
      - {name: data-v1, mountPoint: /data-dash}
      - {name: %s, mountPoint: /long-a}
      - {name: %s, mountPoint: /long-b}
  types:
    worker: {count: 1, resources: {cpus: 1, ramRatio: 1}}
"""


def test_existing_claims_with_dots_or_long_names_get_valid_distinct_volume_names(
    compile_cli, tmp_path
):
    long_a, long_b = "a" * 80 + ".x", "a" * 80 + ".y"
    path = tmp_path / "claims.yaml"
    path.write_text(CLAIMS_MANIFEST % (long_a, long_b))
    result = compile_cli("-o", "json", str(path))
    assert result.exit_code == 0, result.stderr
    [job] = json.loads(result.stdout)["items"]
    spec = job["spec"]["template"]["spec"]
    claim_of = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]}
    assert sorted(claim_of.values()) == sorted(["data.v1", "data-v1", long_a, long_b])
    for name in claim_of:
        assert DNS1123_LABEL.match(name) and len(name) <= 63, name
    mounts = {m["mountPath"]: claim_of[m["name"]] for m in only_container(spec)["volumeMounts"]}
    assert mounts == {
        "/data": "data.v1",
        "/data-dash": "data-v1",
        "/long-a": long_a,
        "/long-b": long_b,
    }
