"""Started by `torchrun` with no flags, as the corpus's manifests start it: torchrun must learn
the group from the environment. Each rank all-reduces 1 over gloo: the sum is the world size."""

import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
ones = torch.ones(1)
dist.all_reduce(ones)
print(
    f"proof: rank={dist.get_rank()} world_size={dist.get_world_size()} "
    f"all_reduce={int(ones.item())} group_rank={os.environ.get('GROUP_RANK')}",
    flush=True,
)
dist.destroy_process_group()
