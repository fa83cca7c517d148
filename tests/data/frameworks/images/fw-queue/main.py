"""A job that holds its quota for a while and says when it ran."""

import os
import time

start = time.time()
time.sleep(float(os.environ.get("HOLD_SECONDS", "8")))
print(f"proof: host={os.uname().nodename} start={start:.3f} end={time.time():.3f}", flush=True)
