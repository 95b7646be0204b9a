"""Process-group set-up from the launcher's environment, in one place.

One process per device. Launch with torchrun (it sets RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT); under SLURM ``srun`` the SLURM_* variables are read instead
(MASTER_ADDR/MASTER_PORT must then be exported by the job script)::

    # one machine, 8 GPUs
    torchrun --standalone --nproc-per-node 8 -m dubclr train configs/paper/B3.yaml
    # 4 machines x 8 GPUs: run on every machine, same endpoint
    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d \\
        --rdzv-endpoint HOST0:29500 --rdzv-id b3 -m dubclr train configs/paper/B3.yaml
    # CPU, 2 processes (gloo), for testing
    torchrun --standalone --nproc-per-node 2 -m dubclr train configs/toy/EN.yaml device=cpu

NCCL is used on CUDA devices, gloo on CPU. The loss's gather with gradient lives with the
loss (``dubclr.train.loss.gather_with_grad``).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from dubclr.errors import ConfigError
from dubclr.train.loss import gather_with_grad  # noqa: F401  (the loss's gather, by its old address)


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launch_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun or SLURM variables; (0, 1, 0) if none."""
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0))
    if "SLURM_PROCID" in env and int(env.get("SLURM_NTASKS", "1")) > 1:
        return int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0))
    return 0, 1, 0


def pick_device(choice: str, local_rank: int) -> torch.device:
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device=cuda was asked for but no CUDA device is visible; "
                              "use device=cpu or device=auto")
        count = torch.cuda.device_count()
        if local_rank >= count:
            # NCCL refuses two ranks on one device ("invalid usage"), after a slow start-up
            raise ConfigError(f"local rank {local_rank} has no GPU of its own: this node shows "
                              f"{count} CUDA device(s) and NCCL needs one per process; launch at "
                              f"most {count} processes per node (torchrun --nproc-per-node "
                              f"{count}), or use device=cpu (gloo) for a CPU test")
        return torch.device("cuda", local_rank)
    if choice == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"device: {choice!r} is not one of auto, cpu, cuda")


def setup(device: str = "auto", timeout_s: float = 1800.0) -> DistEnv:
    """Join the process group the launcher describes (no-op for a single process)."""
    rank, world_size, local_rank = launch_env()
    dev = pick_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        if "SLURM_PROCID" in os.environ and "RANK" not in os.environ:
            os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size))
        if "MASTER_ADDR" not in os.environ:
            raise ConfigError("a multi-process run needs MASTER_ADDR and MASTER_PORT; "
                              "launch it with torchrun (see dubclr.train.distributed)")
        dist.init_process_group(
            backend="nccl" if dev.type == "cuda" else "gloo",
            timeout=datetime.timedelta(seconds=timeout_s),
            device_id=dev if dev.type == "cuda" else None,
        )
    return DistEnv(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks in place (identity for one process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier() -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
