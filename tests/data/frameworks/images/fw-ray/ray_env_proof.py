"""The runtime env's PROOF_VALUE, written with `$`, `$(...)`, `${...}`, `$$` and backquotes, as
Ray received it (the job's runtime env) and as the driver and a task see it in their environment
(where Ray itself expands `$NAME`/`${NAME}` of its own environment: utils.update_envs)."""

import json
import os

import ray

ray.init()


@ray.remote(num_cpus=0)
def seen() -> str | None:
    return os.environ.get("PROOF_VALUE")


received = (ray.get_runtime_context().runtime_env.get("env_vars") or {}).get("PROOF_VALUE")
print(
    "env-proof: "
    + json.dumps(
        {
            "received": received,
            "driver": os.environ.get("PROOF_VALUE"),
            "task": ray.get(seen.remote()),
            "home": os.environ.get("HOME"),
        }
    ),
    flush=True,
)
