"""Building the pieces of a run from its config: model wrapping, optimizer, precision."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dubclr.train.config import OptimConfig, TrainConfig
from dubclr.train.distributed import DistEnv


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices and kernels; none on biases, norm gains, 1-D tensors."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr,
                             betas=tuple(cfg.betas), eps=cfg.eps)


def autocast_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA unless fp32 is asked for; plain fp32 on CPU."""
    if cfg.precision == "fp32" or device.type != "cuda":
        return None
    return torch.bfloat16


def prepare_model(raw: nn.Module, cfg: TrainConfig, env: DistEnv) -> tuple[nn.Module, nn.Module]:
    """(module to train, module whose state_dict is saved). SyncBatchNorm under DDP on
    CUDA, then torch.compile if asked, then DDP."""
    raw = raw.to(env.device)
    if env.distributed and env.device.type == "cuda" and cfg.sync_batchnorm:
        raw = nn.SyncBatchNorm.convert_sync_batchnorm(raw)
    model = raw
    if cfg.compile:
        model = torch.compile(model)
    if env.distributed:
        ids = [env.device.index] if env.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
    return model, raw
