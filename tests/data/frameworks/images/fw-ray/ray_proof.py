"""The driver `ray job submit` runs on the RayCluster KubeRay made: it counts the cluster's alive
nodes and runs a task on each of them."""

import socket

import ray

ray.init()
alive = [n for n in ray.nodes() if n["Alive"]]


@ray.remote(num_cpus=0)
def where() -> str:
    return ray.get_runtime_context().get_node_id()


strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy
ran_on = {
    ray.get(where.options(scheduling_strategy=strategy(n["NodeID"], soft=False)).remote())
    for n in alive
}
print(
    f"proof: alive_nodes={len(alive)} task_nodes={len(ran_on)} driver_host={socket.gethostname()}",
    flush=True,
)
