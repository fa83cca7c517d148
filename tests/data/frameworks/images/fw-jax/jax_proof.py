"""jax.distributed from the environment the compiler emits; every process reports the group."""

import os

import jax
import jax.numpy as jnp
from jax.experimental import multihost_utils

address = os.environ["JAXOPERATOR_COORDINATOR_ADDRESS"]
count = int(os.environ["JAXOPERATOR_NUM_PROCESSES"])
index = int(os.environ["JAXOPERATOR_PROCESS_ID"])
jax.distributed.initialize(
    coordinator_address=address, num_processes=count, process_id=index, initialization_timeout=120
)
gathered = multihost_utils.process_allgather(jnp.array([jax.process_index()]))
print(
    f"proof: process_index={jax.process_index()} process_count={jax.process_count()} "
    f"gathered={sorted(int(x) for x in gathered.ravel())}",
    flush=True,
)
jax.distributed.shutdown()
