"""The run state: everything a run advances, in one object that a checkpoint holds whole.

``RunState`` = model, optimizer, learning-rate schedule, loader (which owns the epoch and
its position in it), the training transforms (which own the augmentation generator), the
optimizer step and the count of skipped steps. ``Trainer.fit`` advances it;
``train/checkpoint.py`` writes and reads it. Randomness lives in two generators, both part
of the state: the transforms' (crops, masks) and torch's default generator, from which the
model's own random layers (dropout, drop-path) draw; the run seeds the latter once, with
``seed + rank``. The sampler and the loader's workers seed themselves from the run's seed,
the epoch and the rank.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dubclr.checkpoint import read_model_weights, resolve_checkpoint
from dubclr.data.transforms import ViewTransforms, seeded_generator
from dubclr.errors import ConfigError
from dubclr.models.checkpoint import load_weights_into
from dubclr.train.config import OptimConfig, TrainConfig
from dubclr.train.distributed import DistEnv
from dubclr.train.schedule import WarmupCosine

HEAD_PREFIXES = ("video_head.", "audio_head.")


@dataclass
class RunState:
    model: nn.Module  # the module whose weights are saved (on the device, not DDP-wrapped)
    optimizer: torch.optim.Optimizer
    scheduler: WarmupCosine
    loader: Any  # len() batches per epoch, set_epoch, iteration from its place, state_dict
    transforms: ViewTransforms
    optimizer_steps_per_epoch: int
    total_steps: int  # of the schedule
    step: int = 0  # optimizer steps taken
    skipped_steps: int = 0  # non-finite steps skipped, over the whole run

    @property
    def epoch(self) -> float:
        return self.step / self.optimizer_steps_per_epoch

    def shared_state(self) -> dict[str, Any]:
        """What every rank holds alike (saved once)."""
        return {"step": self.step, "skipped_steps": self.skipped_steps,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict()}

    def rank_state(self) -> dict[str, Any]:
        """What differs across ranks: the loader's place and the random generators."""
        rng = {"augment": self.transforms.generator.get_state(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {"loader": self.loader.state_dict(), "rng": rng}

    def load(self, shared: dict[str, Any], mine: dict[str, Any]) -> None:
        self.step = int(shared["step"])
        self.skipped_steps = int(shared.get("skipped_steps", shared.get("nonfinite_total", 0)))
        self.optimizer.load_state_dict(shared["optimizer"])
        self.scheduler.load_state_dict(shared["scheduler"])
        self.loader.load_state_dict(mine["loader"])
        rng = mine["rng"]
        if "augment" in rng:  # (checkpoints before v0.2 drew augmentations from torch's)
            self.transforms.generator.set_state(rng["augment"])
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


def build_run_state(cfg: TrainConfig, env: DistEnv, *, model: nn.Module | None = None,
                    loader: Any = None,
                    transforms: tuple[nn.Module | None, nn.Module | None] | None = None,
                    initialise: bool = True) -> RunState:
    """A fresh run state from the config; ``model``, ``loader`` and ``transforms`` replace
    what the config describes (tests, notebooks). ``initialise``: apply ``init_from`` (not
    when the state is about to be restored from a checkpoint)."""
    if model is None:
        from dubclr.models.av import build_model

        model = build_model(cfg.model)  # from torch's generator, seeded by the trainer
    if initialise and cfg.init_from is not None:
        source = init_weights_from(model, cfg.init_from.path, cfg.init_from.heads)
        if env.is_main:
            print(f"dubclr: initialised from {source} (heads: {cfg.init_from.heads})",
                  file=sys.stderr)
    model = place_model(model, cfg, env)
    if loader is None:
        from dubclr.shards.loader import build_train_loader

        loader = build_train_loader(cfg.data, rank=env.rank, world_size=env.world_size,
                                    seed=cfg.seed)
    if transforms is None:
        from dubclr.data.transforms import build_transforms

        transforms = build_transforms(cfg.data, train=True)
    views = ViewTransforms(*transforms, generator=seeded_generator(cfg.seed, env.rank, 0xA06))
    accum = cfg.optim.accum_steps
    steps_per_epoch = len(loader) // accum
    if steps_per_epoch < 1:
        raise ConfigError(f"the training data gives {len(loader)} batches per epoch, fewer "
                          f"than optim.accum_steps={accum}; use more data or smaller batches")
    total = max(1, math.ceil(cfg.schedule.epochs * steps_per_epoch))
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = WarmupCosine(optimizer, cfg.optim.lr, total,
                             round(cfg.schedule.warmup_epochs * steps_per_epoch),
                             cfg.schedule.min_lr_ratio)
    return RunState(model=model, optimizer=optimizer, scheduler=scheduler, loader=loader,
                    transforms=views.to(env.device), optimizer_steps_per_epoch=steps_per_epoch,
                    total_steps=total)


def init_weights_from(model: nn.Module, path: str | Path, heads: str = "keep") -> Path:
    """Copy another run's weights into ``model`` (backbones always; heads if ``keep``);
    ``path`` is a checkpoint, model or run directory. Returns the checkpoint used."""
    source = resolve_checkpoint(path)
    keys = [k for k in model.state_dict() if heads == "keep" or not k.startswith(HEAD_PREFIXES)]
    load_weights_into(model, read_model_weights(source), where=f"init_from {source}", only=keys)
    return source


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


def place_model(model: nn.Module, cfg: TrainConfig, env: DistEnv) -> nn.Module:
    """On the device; SyncBatchNorm under DDP on CUDA (before the optimizer sees it)."""
    model = model.to(env.device)
    if env.distributed and env.device.type == "cuda" and cfg.sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def wrap_model(model: nn.Module, cfg: TrainConfig, env: DistEnv) -> nn.Module:
    """The module to train: torch.compile if asked, then DDP (which broadcasts rank 0's
    weights and buffers, so every rank starts from the same model)."""
    if cfg.compile:
        model = torch.compile(model)
    if env.distributed:
        ids = [env.device.index] if env.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
    return model
