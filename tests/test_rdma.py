"""RDMA networks (SPEC 2.6, issue 21 item 11): a global policy's ``spec.cluster.rdma`` maps a
network to its device resource and NCCL variables; the pods that attach the network request the
resource and get the variables, without an injector patching pods on the cluster."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from example_support import run_cli

CLUSTER = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: cluster}
spec:
  cluster:
    rdma:
      sriov_a: {resource: rdma/hca_shared, count: 1, env: {NCCL_IB_HCA: mlx5, NCCL_IB_DISABLE: "0"}}
      sriov_b: {resource: rdma/hca_shared, env: {NCCL_IB_HCA: mlx5}}
      ib0: {resource: nvidia.com/hostdev, count: 2, env: {NCCL_SOCKET_IFNAME: net1}}
"""

WORKLOAD = """\
name: rdma-job
spec:
  operator: pytorch
  image: registry.example.com/train:1
  command: python train.py
  env: {{NCCL_SOCKET_IFNAME: eth0}}
  types:
    Master:
      count: 1
      resources:
        cpus: 4
        memory: 16
        accelerators: {{gpu: {{count: 2}}}}
        rdma: {{devices: [{devices}]}}
    Worker:
      count: 1
      resources: {{cpus: 4, memory: 16}}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def compile_(tmp_path: Path, workload: str, *policies: str):
    args = []
    for i, text in enumerate(policies):
        args += ["-p", write(tmp_path, f"policy-{i}.yaml", text)]
    return run_cli(*args, write(tmp_path, "workload.yaml", workload))


def containers(stdout: str) -> dict:
    [jobset] = [o for o in yaml.safe_load_all(stdout) if o]
    return {
        rjob["name"]: rjob["template"]["spec"]["template"]["spec"]["containers"][0]
        for rjob in jobset["spec"]["replicatedJobs"]
    }


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_a_pod_attaching_a_network_requests_its_device_and_gets_its_variables(tmp_path):
    result = compile_(tmp_path, WORKLOAD.format(devices="sriov_a, sriov_b, ib0"), CLUSTER)
    assert result.exit_code == 0, result.stderr
    master, worker = containers(result.stdout).values()
    requests = master["resources"]["requests"]
    assert requests["rdma/hca_shared"] == "2"  # sriov_a and sriov_b: one each
    assert requests["nvidia.com/hostdev"] == "2"
    assert master["resources"]["limits"]["rdma/hca_shared"] == "2"  # extended: limit = request
    env = env_of(master)
    assert env["NCCL_IB_HCA"] == "mlx5" and env["NCCL_IB_DISABLE"] == "0"
    # the manifest's own value wins, and the variable is not written twice
    names = [e["name"] for e in master["env"]]
    assert names.count("NCCL_SOCKET_IFNAME") == 1 and env["NCCL_SOCKET_IFNAME"] == "eth0"
    assert master["securityContext"] == {"capabilities": {"add": ["IPC_LOCK"]}}
    # the worker attaches no network: no device, no variables
    assert "rdma/hca_shared" not in worker["resources"]["requests"]
    assert "NCCL_IB_HCA" not in env_of(worker)


def test_without_the_clusters_rdma_facts_only_the_network_is_attached(tmp_path):
    result = compile_(tmp_path, WORKLOAD.format(devices="sriov_a"))
    assert result.exit_code == 0, result.stderr
    master = containers(result.stdout)["master"]
    assert set(master["resources"]["requests"]) == {"cpu", "memory", "nvidia.com/gpu"}
    assert "NCCL_IB_HCA" not in env_of(master)


def test_a_network_the_cluster_does_not_map_requests_nothing(tmp_path):
    result = compile_(tmp_path, WORKLOAD.format(devices="other_net"), CLUSTER)
    assert result.exit_code == 0, result.stderr
    master = containers(result.stdout)["master"]
    assert set(master["resources"]["requests"]) == {"cpu", "memory", "nvidia.com/gpu"}


def test_networks_of_one_pod_that_disagree_on_a_variable_are_an_error(tmp_path):
    cluster = CLUSTER.replace("env: {NCCL_IB_HCA: mlx5}}", "env: {NCCL_IB_HCA: mlx5_1}}")
    result = compile_(tmp_path, WORKLOAD.format(devices="sriov_a, sriov_b"), cluster)
    assert result.exit_code == 1
    assert "workload.yaml:14:" in result.stderr and "error[E323]" in result.stderr, result.stderr
    assert "NCCL_IB_HCA" in result.stderr


def test_two_global_policies_describing_one_network_differently_are_an_error(tmp_path):
    other = CLUSTER.replace("name: cluster", "name: cluster-2").replace("count: 2", "count: 4")
    result = compile_(tmp_path, WORKLOAD.format(devices="ib0"), CLUSTER, other)
    assert result.exit_code == 1
    assert "error[E316]" in result.stderr and "spec.cluster.rdma.ib0" in result.stderr


def test_a_device_resource_that_is_not_a_qualified_name_is_an_error(tmp_path):
    broken = CLUSTER.replace("resource: nvidia.com/hostdev", "resource: hostdev")
    result = compile_(tmp_path, WORKLOAD.format(devices="ib0"), broken)
    assert result.exit_code == 1
    assert "policy-0.yaml:9:" in result.stderr and "error[E310]" in result.stderr, result.stderr


def test_rdma_device_in_a_queue_that_does_not_cover_it_is_an_error(tmp_path):
    """Kueue refuses a resource its ClusterQueue does not cover (item 1, E322)."""
    quota = (
        "apiVersion: manifest-compiler/v1\nkind: Policy\n"
        "metadata: {name: q, project: team-a}\n"
        "spec: {quota: {cpus: 64, memoryGB: 256, gpus: 8}}\n"
    )
    workload = "project: team-a\n" + WORKLOAD.format(devices="sriov_a")
    result = compile_(tmp_path, workload, CLUSTER, quota)
    assert result.exit_code == 1
    assert "error[E322]" in result.stderr and "rdma/hca_shared" in result.stderr, result.stderr


def test_ray_pods_attaching_a_network_request_its_device(tmp_path):
    workload = textwrap.dedent(
        """\
        name: ray-rdma
        spec:
          operator: kuberay
          image: registry.example.com/ray:2.9
          command: python main.py
          types:
            Head: {resources: {cpus: 2, memory: 8}}
            Workers:
              - name: gpu
                count: 2
                resources: {cpus: 4, memory: 16, rdma: {devices: [ib0]}}
        """
    )
    result = compile_(tmp_path, workload, CLUSTER)
    assert result.exit_code == 0, result.stderr
    [rayjob] = [o for o in yaml.safe_load_all(result.stdout) if o and o["kind"] == "RayJob"]
    cluster = rayjob["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    [worker] = cluster["workerGroupSpecs"][0]["template"]["spec"]["containers"]
    assert worker["resources"]["requests"]["nvidia.com/hostdev"] == "2"
    assert env_of(worker)["NCCL_SOCKET_IFNAME"] == "net1"
    assert "nvidia.com/hostdev" not in head["resources"]["requests"]
