"""XGBoost's collective across the addresses the compiler emits: rank 0 (the master) runs the
tracker at MASTER_ADDR:MASTER_PORT and every pod joins it as a worker; an allreduce proves the
group, then a small distributed training runs. PROOF_DMLC_RETRY: how many times a pod tries to
connect to the tracker (xgboost's default is 3, 2 s then 4 s apart: socket.cc Connect)."""

import os
import socket
import threading

import numpy as np
import xgboost as xgb
from xgboost import collective
from xgboost.tracker import RabitTracker

rank = int(os.environ["RANK"])
world = int(os.environ["WORLD_SIZE"])
master, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])

if rank == 0:
    tracker = RabitTracker(
        n_workers=world, host_ip=socket.gethostbyname(master), port=port, timeout=120
    )
    tracker.start()
    threading.Thread(target=tracker.wait_for, kwargs={"timeout": 180}, daemon=True).start()

with collective.CommunicatorContext(
    dmlc_tracker_uri=master,
    dmlc_tracker_port=port,
    dmlc_task_id=f"pod-{rank}",
    dmlc_retry=int(os.environ.get("PROOF_DMLC_RETRY", "20")),
):
    total = collective.allreduce(np.ones(1), collective.Op.SUM)
    rng = np.random.default_rng(rank)
    x = rng.normal(size=(64, 4))
    booster = xgb.train(
        {"tree_method": "hist", "nthread": 1}, xgb.DMatrix(x, label=x[:, 0] > 0), num_boost_round=3
    )
    print(
        f"proof: rank={collective.get_rank()} world_size={collective.get_world_size()} "
        f"allreduce={int(total[0])} trees={booster.num_boosted_rounds()} "
        f"workers={os.environ.get('WORKER_ADDRS', '<unset>')}",
        flush=True,
    )
