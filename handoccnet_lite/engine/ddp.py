"""Multi-process training on PyTorch's own engine: DistributedDataParallel under `torchrun`.

    torchrun --nproc_per_node 4 -m handoccnet_lite train --preset paper --data data/synthocc

`torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `setup()` reads them
and starts the process group (NCCL on CUDA, gloo on CPU). Without them it is a no-op and
everything runs in one process. Only rank 0 writes logs and checkpoints.

Learning rate and global batch: the paper trains with 16 images per GPU on 4 GPUs (global 64)
at lr 1e-4. The default rule here is linear scaling, lr = base_lr * global_batch / 64, so a
run on fewer GPUs or a smaller batch keeps the paper's lr per image. Retraining on fewer GPUs
without scaling is what users of the release reported as much worse Dex-YCB numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist
from torch import nn

PAPER_GLOBAL_BATCH = 64  # 16 per GPU x 4 GPUs
LrScaling = Literal["linear", "none"]


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world_from_env() -> World:
    """Read torchrun's environment (single process when absent)."""
    return World(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def setup(device: torch.device) -> World:
    """Start the process group when launched by torchrun; returns this process's World."""
    world = world_from_env()
    if not world.distributed or dist.is_initialized():
        return world
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend=backend, rank=world.rank, world_size=world.world_size)
    return world


def cleanup() -> None:
    """Tear the process group down (no-op outside torchrun)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: torch.device, world: World) -> torch.device:
    """One GPU per process under torchrun: cuda:LOCAL_RANK; CPU stays CPU."""
    if device.type == "cuda" and world.distributed:
        return torch.device("cuda", world.local_rank)
    return device


def wrap(model: nn.Module, device: torch.device, world: World) -> nn.Module:
    """DistributedDataParallel around `model` when more than one process runs."""
    if not world.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    return DDP(model, device_ids=ids)


def scaled_lr(
    base_lr: float, global_batch: int, rule: LrScaling = "linear", reference: int = 64
) -> float:
    """The learning rate for a global batch.

    linear: lr = base_lr * global_batch / reference (reference = the paper's 4 x 16 = 64);
    none: lr = base_lr whatever the batch (what the release does, and what hurt users on
    fewer GPUs).
    """
    if global_batch < 1 or reference < 1:
        raise ValueError(
            f"global_batch and reference must be >= 1, got {global_batch}, {reference}"
        )
    if rule == "linear":
        return base_lr * global_batch / reference
    if rule == "none":
        return base_lr
    raise ValueError(f"Unknown lr scaling rule {rule!r}; use 'linear' (default) or 'none'.")


def all_reduce_mean(values: torch.Tensor, world: World) -> torch.Tensor:
    """Mean of `values` over processes (identity in one process). values: (K,)."""
    if not world.distributed:
        return values
    out = values.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / world.world_size


def max_param_difference(model: nn.Module, world: World) -> float:
    """Largest |w_rank - w_rank0| over all parameters and buffers; 0.0 in one process.

    A cheap end-of-run check that DDP kept the replicas identical.
    """
    if not world.distributed:
        return 0.0
    flat = torch.cat([t.detach().float().reshape(-1) for t in model.state_dict().values()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    diff = (flat - ref).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff.item())


def broadcast_buffers(model: nn.Module, world: World) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP broadcasts buffers from rank 0 at the start of each forward, so after the last forward
    each rank holds running statistics of its own shard. Rank 0's are the ones checkpoints keep;
    this makes every replica end with exactly those.
    """
    if not world.distributed:
        return
    for buf in model.buffers():
        dist.broadcast(buf.data, src=0)


def barrier(world: World) -> None:
    """Wait for every process (no-op in one process)."""
    if world.distributed:
        dist.barrier()
