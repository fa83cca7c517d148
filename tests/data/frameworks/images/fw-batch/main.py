"""A pod of an Indexed Job prints its completion index."""

import os

print(
    f"proof: JOB_COMPLETION_INDEX={os.environ.get('JOB_COMPLETION_INDEX', '<unset>')}", flush=True
)
