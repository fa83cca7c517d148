"""compiler.local.plan: the pods the controllers would make of compiled objects, with the kubelet's
environment. Inputs are the golden files (what `compile` emits for each example); expected values
are written from the controllers' sources (JobSet v0.12.0, Kubernetes v1.36 Job controller,
KubeRay v1.6.0) and SPEC §5's table, never from the code under test."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from example_support import EXAMPLE_OPTION_DIRS, GOLDEN, run_cli

from compiler.local.plan import Node, plan
from compiler.local.pods import LocalPod, Plan

SECRETS = {
    "huggingface": {"token": "hf-secret"},
    "s3-credentials": {"access-key": "AK", "secret-key": "SK"},
    "wandb": {"api-key": "wb-secret"},
    "gcs-service-account": {"key.json": "{}"},
}


def golden(stem: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((GOLDEN / f"{stem}.yaml").read_text()) if d]


def planned(stem: str, secrets=SECRETS) -> Plan:
    result = plan(golden(stem), secrets)
    assert result.diagnostics == ()
    return result


def env(pod: LocalPod, container: int = 0) -> dict[str, str]:
    return dict(pod.containers[container].env)


def names(result: Plan) -> list[str]:
    return [p.name for p in result.pods]


# ------------------------------------------------------------------------ jobset


def test_heavy_and_workers_gives_the_multi_jobs_demo_indices():
    result = planned("jobset-heavy-and-workers")
    assert names(result) == ["heavy-and-workers-worker-heavy-0-0"] + [
        f"heavy-and-workers-worker-{i}-0" for i in range(7)
    ]
    heavy, *workers = result.pods
    assert env(heavy)["JOB_GLOBAL_INDEX"] == "0"
    assert env(heavy)["GLOBAL_REPLICAS"] == "8"
    assert [env(w)["JOB_GLOBAL_INDEX"] for w in workers] == [str(i) for i in range(1, 8)]
    assert [env(w)["JOB_INDEX"] for w in workers] == [str(i) for i in range(7)]
    assert {env(w)["REPLICATED_JOB_NAME"] for w in workers} == {"worker"}
    assert {env(w)["REPLICATED_JOB_REPLICAS"] for w in workers} == {"7"}
    assert env(heavy)["WANDB_API_KEY"] == "wb-secret"


def test_jobset_pods_carry_the_controllers_labels_annotations_and_names():
    pod = planned("jobset-heavy-and-workers").pods[3]  # worker, job index 2
    labels, annotations = dict(pod.labels), dict(pod.annotations)
    for facts in (labels, annotations):
        assert facts["jobset.sigs.k8s.io/jobset-name"] == "heavy-and-workers"
        assert facts["jobset.sigs.k8s.io/replicatedjob-name"] == "worker"
        assert facts["jobset.sigs.k8s.io/job-index"] == "2"
        assert facts["jobset.sigs.k8s.io/job-global-index"] == "3"
        assert facts["jobset.sigs.k8s.io/global-replicas"] == "8"
        assert facts["jobset.sigs.k8s.io/restart-attempt"] == "0"
        assert facts["jobset.sigs.k8s.io/group-name"] == "default"
        assert facts["batch.kubernetes.io/job-completion-index"] == "0"
    # sha1("default/heavy-and-workers-worker-2"), as JobSet's jobHashKey computes it
    import hashlib

    key = hashlib.sha1(b"default/heavy-and-workers-worker-2").hexdigest()
    assert labels["jobset.sigs.k8s.io/job-key"] == key
    assert labels["batch.kubernetes.io/job-name"] == "heavy-and-workers-worker-2"
    assert labels["job-name"] == "heavy-and-workers-worker-2"
    assert pod.hostname == "heavy-and-workers-worker-2-0"
    assert pod.subdomain == "heavy-and-workers"
    assert pod.group == "heavy-and-workers-worker-2"


def test_the_job_controller_appends_the_completion_index_last():
    pod = planned("jobset-heavy-and-workers").pods[0]
    keys = [k for k, _ in pod.containers[0].env]
    assert keys[-1] == "JOB_COMPLETION_INDEX"
    assert env(pod)["JOB_COMPLETION_INDEX"] == "0"


def test_a_pod_resolves_by_every_dns_form_of_its_hostname_and_of_the_headless_service():
    pod = planned("jobset-heavy-and-workers").pods[1]
    fqdn = "heavy-and-workers-worker-0-0.heavy-and-workers.default.svc.cluster.local"
    assert fqdn in pod.dns_names
    assert "heavy-and-workers-worker-0-0.heavy-and-workers" in pod.dns_names
    assert "heavy-and-workers-worker-0-0" in pod.dns_names
    assert "heavy-and-workers.default.svc.cluster.local" in pod.dns_names


def test_grid_10x10_paced_is_ten_jobs_of_ten_pods_two_at_a_time():
    result = planned("jobset-10x10-two-at-a-time")
    assert len(result.pods) == 100
    assert len(result.groups) == 10
    assert {g.parallelism for g in result.groups} == {2}
    job_3 = [p for p in result.pods if p.group.endswith("-worker-3")]
    assert {env(p)["JOB_INDEX"] for p in job_3} == {"3"}
    assert [env(p)["JOB_COMPLETION_INDEX"] for p in job_3] == [str(i) for i in range(10)]
    assert [p.hostname for p in job_3][:2] == [
        "grid-10x10-paced-worker-3-0",
        "grid-10x10-paced-worker-3-1",
    ]


def test_grid_10x10_all_at_once_has_no_parallelism_limit():
    result = planned("jobset-10x10-all-at-once")
    assert len(result.pods) == 100
    assert {g.parallelism for g in result.groups} == {None}


def test_pod_ips_are_distinct_loopback_addresses_in_pod_order():
    result = planned("jobset-10x10-all-at-once")
    ips = [p.ip for p in result.pods]
    assert len(set(ips)) == 100
    assert ips[:2] == ["127.77.0.2", "127.77.0.3"]
    assert all(ip.startswith("127.77.") for ip in ips)


def test_the_plan_is_deterministic():
    assert plan(golden("pytorch-gpu-rdma"), SECRETS) == plan(golden("pytorch-gpu-rdma"), SECRETS)


# ------------------------------------------------------------------------ operators


def test_pytorch_master_is_rank_zero_and_torchrun_reads_its_pet_variables():
    result = planned("pytorch-gpu-rdma")
    assert names(result) == ["llm-pretrain-master-0-0"] + [
        f"llm-pretrain-worker-{i}-0" for i in range(3)
    ]
    ranks = [env(p)["RANK"] for p in result.pods]
    assert ranks == ["0", "1", "2", "3"]
    assert [env(p)["PET_NODE_RANK"] for p in result.pods] == ranks
    master = env(result.pods[0])
    assert (
        master["MASTER_ADDR"] == master["PET_MASTER_ADDR"] == "llm-pretrain-master-0-0.llm-pretrain"
    )
    assert master["PET_NPROC_PER_NODE"] == "8"
    assert master["HF_TOKEN"] == "hf-secret"
    # the master's DNS name is the pod MASTER_ADDR names
    assert master["MASTER_ADDR"] in result.pods[0].dns_names


def test_pytorch_secret_volume_holds_the_secret_and_the_claim_is_shared():
    result = planned("pytorch-gpu-rdma")
    volumes = {v.mount_path: v for v in result.pods[1].volumes}
    assert dict(volumes["/var/run/secrets/s3"].files) == SECRETS["s3-credentials"]
    assert volumes["/var/run/secrets/s3"].read_only
    assert volumes["/data"].local_dir == "claims/datasets"
    assert volumes["/dev/shm"].local_dir == "pods/llm-pretrain-worker-0-0/dshm"


def test_xgboost_workers_start_after_the_master_is_ready():
    result = planned("xgboost-dist")
    master, *workers = result.pods
    assert master.start_after == ()
    assert {w.start_after for w in workers} == {(master.name,)}
    assert master.containers[0].readiness is not None
    assert master.containers[0].readiness.tcp_port == 9999
    assert [env(p)["RANK"] for p in result.pods] == ["0", "1", "2", "3", "4"]
    # the tracker's Service names resolve to the master only
    assert "xgb-dist-ports" in master.dns_names
    assert all("xgb-dist-ports" not in w.dns_names for w in workers)


def test_tf_config_is_expanded_with_each_workers_index():
    result = planned("tf-three-workers")
    configs = [env(p)["TF_CONFIG"] for p in result.pods]
    assert ['"index":0}' in configs[0], '"index":2}' in configs[2]] == [True, True]
    assert all("$(" not in c for c in configs)


def test_jax_hosts_of_one_slice_share_worker_zero_as_coordinator():
    """The process id is computed by the shell from JOB_INDEX and JOB_COMPLETION_INDEX (the
    command), so the environment carries both, and the coordinator every host dials."""
    result = planned("jax-tpu")
    envs = [env(p) for p in result.pods]
    assert len(envs) == 4
    assert len({e["JAXOPERATOR_COORDINATOR_ADDRESS"] for e in envs}) == 1
    assert envs[0]["JAXOPERATOR_COORDINATOR_ADDRESS"].endswith(":1234")
    assert [e["JOB_COMPLETION_INDEX"] for e in envs] == ["0", "1", "2", "3"]
    assert {e["JAXOPERATOR_NUM_PROCESSES"] for e in envs} == {"4"}
    host = envs[0]["JAXOPERATOR_COORDINATOR_HOST"]
    assert host in result.pods[0].dns_names


def test_batch_job_pods_are_its_completion_indices_without_a_subdomain():
    result = planned("batchjob-indexed")
    (workload,) = result.workloads
    assert workload.kind == "Job"
    assert [env(p)["JOB_COMPLETION_INDEX"] for p in result.pods] == [
        str(i) for i in range(len(result.pods))
    ]
    first = result.pods[0]
    assert first.hostname == f"{workload.name}-0"
    assert first.subdomain is None
    assert first.dns_names == (first.hostname,)
    assert dict(first.annotations)["batch.kubernetes.io/job-index-failure-count"] == "0"


# ------------------------------------------------------------------------ kuberay


def test_rayjob_is_a_head_worker_groups_and_a_submitter_started_last():
    result = planned("kuberay-cpu-gpu")
    head = result.pods[0]
    assert head.name == "ray-tune-sweep-local-head"
    kinds = [dict(p.labels).get("ray.io/node-type") for p in result.pods]
    assert kinds == ["head"] + ["worker"] * 6 + [None]
    submitter = result.pods[-1]
    assert set(submitter.start_after) == {p.name for p in result.pods[:-1]}
    services = [g for g in result.groups if g.service]
    assert len(services) == 3
    assert result.group(submitter.group).backoff_limit == 2


def test_ray_nodes_get_kuberays_environment_and_ray_start():
    result = planned("kuberay-cpu-gpu")
    head, worker = result.pods[0], result.pods[1]
    head_env = env(head)
    assert head_env["RAY_ADDRESS"] == "127.0.0.1:6379"
    assert head_env["RAY_CLUSTER_NAME"] == "ray-tune-sweep-local"
    assert head_env["RAY_NODE_TYPE_NAME"] == "headgroup"
    assert head_env["RAY_USAGE_STATS_EXTRA_TAGS"] == "kuberay_version=v1.6.0;kuberay_crd=RayJob"
    assert head.containers[0].argv[:3] == ("/bin/bash", "-c", "--")
    assert head.containers[0].argv[3].startswith("ulimit -n 65536; ray start --head  --block ")
    assert "--num-cpus=0 " in head.containers[0].argv[3]
    fqdn = "ray-tune-sweep-local-head-svc.team-b.svc.cluster.local"
    assert env(worker)["RAY_ADDRESS"] == f"{fqdn}:6379"
    assert env(worker)["FQ_RAY_IP"] == fqdn
    assert f"--address={fqdn}:6379" in worker.containers[0].argv[3]
    assert worker.init_containers[0].name == "wait-gcs-ready"
    assert fqdn in head.dns_names
    assert "ray-tune-sweep-head-svc" in head.dns_names


def test_the_submitter_submits_the_entrypoint_as_kuberay_does():
    result = planned("kuberay-cpu-gpu")
    submitter = result.pods[-1].containers[0]
    assert submitter.argv[:3] == ("/bin/bash", "-ce", "--")
    line = submitter.argv[3]
    dashboard = "http://ray-tune-sweep-local-head-svc.team-b.svc.cluster.local:8265"
    assert line.startswith(f"if ! ray job status --address {dashboard} ray-tune-sweep-001 ")
    assert (
        "--submission-id ray-tune-sweep-001 -- /bin/sh -c ' python -u tune.py --samples 64' ;"
        in line
    )
    assert '--runtime-env-json "{\\"env_vars\\":{\\"OMP_NUM_THREADS\\":\\"4\\"' in line
    assert dict(submitter.env)["RAY_JOB_SUBMISSION_ID"] == "ray-tune-sweep-001"


# ------------------------------------------------------------------------ failure facts


def test_failure_policies_follow_spec_2_8():
    gang = planned("pytorch-gpu-rdma").workloads[0].failure
    assert (gang.scope, gang.backoff_limit) == ("workload", 2)
    assert gang.active_deadline_seconds == 259200
    per_pod = planned("jobset-five-workers").workloads[0].failure
    assert per_pod.scope == "pod"
    batch = planned("batchjob-indexed").workloads[0].failure
    assert (batch.scope, batch.active_deadline_seconds) == ("pod", 5400)


def test_exit_codes_that_fail_at_once_come_from_the_pod_failure_policy():
    objects = golden("jobset-five-workers")
    job_spec = objects[0]["spec"]["replicatedJobs"][0]["template"]["spec"]
    job_spec["podFailurePolicy"]["rules"].append(
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42, 7]}}
    )
    assert plan(objects, {}).workloads[0].failure.fail_on_exit_codes == (7, 42)


# ------------------------------------------------------------------------ bad input


def test_a_missing_secret_is_a_diagnostic_not_a_pod():
    result = plan(golden("jobset-heavy-and-workers"), {})
    assert result.pods == ()
    assert {d.code for d in result.diagnostics} == {"E701"}
    assert 'secret "wandb" not found' in result.diagnostics[0].message
    assert str(result.diagnostics[0].location).startswith("examples/jobset-heavy-and-workers.yaml")


def test_a_missing_key_is_a_diagnostic():
    result = plan(golden("jobset-heavy-and-workers"), {"wandb": {"other": "x"}})
    assert "couldn't find key api-key" in result.diagnostics[0].message


def test_kinds_that_run_no_pods_are_left_out():
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "junk"]
    assert plan(objects, {}) == Plan()


def test_the_node_is_what_the_downward_api_reports():
    objects = golden("batchjob-indexed")
    container = objects[0]["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("env", []).append(
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    )
    container["env"].append(
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    )
    result = plan(objects, SECRETS, Node(name="here"))
    assert env(result.pods[1])["NODE"] == "here"
    assert env(result.pods[1])["IP"] == result.pods[1].ip


# ------------------------------------------------------------------------ scale


def test_set_count_gives_a_smaller_copy_of_the_same_shape(tmp_path: Path):
    options = [o for pair in EXAMPLE_OPTION_DIRS for o in pair]
    result = run_cli(
        "examples/jobset-heavy-and-workers.yaml", *options, "--set", "spec.types.worker.count=2"
    )
    assert result.exit_code == 0, result.stderr
    small = plan([d for d in yaml.safe_load_all(result.stdout) if d], SECRETS)
    assert names(small) == [
        "heavy-and-workers-worker-heavy-0-0",
        "heavy-and-workers-worker-0-0",
        "heavy-and-workers-worker-1-0",
    ]
    assert [env(p)["GLOBAL_REPLICAS"] for p in small.pods] == ["3"] * 3


@pytest.mark.parametrize("stem", sorted(p.stem for p in GOLDEN.glob("*.yaml")))
def test_every_example_plans_with_its_secrets(stem):
    result = planned(stem)
    assert result.pods
    assert all(c.argv for p in result.pods for c in p.containers)


def test_exclusive_placement_is_an_annotation_of_the_pods_not_a_label():
    pod = planned("jax-tpu").pods[0]
    key = "alpha.jobset.sigs.k8s.io/exclusive-topology"
    assert dict(pod.annotations)[key] == "cloud.google.com/gke-nodepool"
    assert key not in dict(pod.labels)


def test_volume_claim_policies_mount_the_claim_jobset_creates():
    pod = planned("jobset-10x10-all-at-once").pods[0]
    (volume,) = [v for v in pod.volumes if v.mount_path == "/mnt/shared"]
    assert volume.local_dir == "claims/shared-grid-10x10"


@pytest.mark.parametrize(
    "change",
    [
        {"clusterSelector": {"ray.io/cluster": "shared"}},
        {"submissionMode": "HTTPMode"},
    ],
)
def test_rayjob_forms_compile_never_emits_are_refused_with_a_reason(change):
    (rayjob,) = [o for o in golden("ray-legacy") if o["kind"] == "RayJob"]
    rayjob["spec"].update(change)
    result = plan([rayjob], SECRETS)
    assert result.pods == ()
    assert [d.code for d in result.diagnostics] == ["E702"]
    assert str(result.diagnostics[0].location).startswith("examples/ray-legacy.yaml")
