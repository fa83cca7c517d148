"""Each pod of a JobSet prints the indices JobSet and the compiler gave it."""

import os

keys = ("JOB_INDEX", "JOB_GLOBAL_INDEX", "REPLICATED_JOB_NAME", "GLOBAL_REPLICAS")
values = " ".join(f"{k}={os.environ.get(k, '<unset>')}" for k in keys)
secret = "set" if os.environ.get("WANDB_API_KEY") else "unset"
print(f"proof: {values} WANDB_API_KEY={secret} host={os.uname().nodename}", flush=True)
