"""TrainConfig: everything one pretraining run needs, loaded from ``configs/**.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dubclr.data.config import DataConfig
from dubclr.errors import ConfigError
from dubclr.models.config import ModelConfig
from dubclr.train.loss import LossConfig


@dataclass
class OptimConfig:
    """AdamW. ``lr`` is the peak rate reached at the end of the warm-up."""

    lr: float = 3e-4
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    grad_clip: float | None = 1.0  # max global gradient norm; null: no clipping
    accum_steps: int = 1  # micro-batches per optimizer step (each its own contrastive batch)

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ConfigError(f"optim.lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError("optim.weight_decay must be >= 0")
        if self.accum_steps < 1:
            raise ConfigError(f"optim.accum_steps must be >= 1, got {self.accum_steps}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError("optim.grad_clip must be > 0 or null")


@dataclass
class ScheduleConfig:
    """Per-step linear warm-up, then half-cosine annealing to ``min_lr_ratio * lr``."""

    epochs: float = 12.0
    warmup_epochs: float = 2.0
    min_lr_ratio: float = 0.0
    max_steps: int | None = None  # stop early (the schedule still spans ``epochs``)

    def __post_init__(self) -> None:
        if not self.epochs > 0:
            raise ConfigError(f"schedule.epochs must be > 0, got {self.epochs}")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ConfigError("schedule.warmup_epochs must be within [0, schedule.epochs]")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError("schedule.min_lr_ratio must be within [0, 1]")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("schedule.max_steps must be >= 1 or null")


@dataclass
class CheckpointConfig:
    every_steps: int = 1000  # 0: only at epoch ends and on exit
    at_epoch_end: bool = True
    keep_last: int = 3
    on_signal: bool = True  # SIGTERM/SIGINT write a final checkpoint

    def __post_init__(self) -> None:
        if self.every_steps < 0:
            raise ConfigError("checkpoint.every_steps must be >= 0")
        if self.keep_last < 1:
            raise ConfigError("checkpoint.keep_last must be >= 1")


@dataclass
class InitFromConfig:
    """Start from another run's weights (B.4/B.5 from B.3). Optimizer state is not taken."""

    path: Path = Path()  # a checkpoint directory, a model directory, or a run directory
    heads: Literal["keep", "reset"] = "keep"


@dataclass
class LogConfig:
    every_steps: int = 10
    tensorboard: bool = True  # used when the tensorboard package is installed

    def __post_init__(self) -> None:
        if self.every_steps < 1:
            raise ConfigError("log.every_steps must be >= 1")


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    run_dir: Path = Path("runs/train")
    init_from: InitFromConfig | None = None
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 autocast on CUDA
    compile: bool = False  # torch.compile the model
    sync_batchnorm: bool = True  # under DDP on CUDA (SyncBatchNorm needs GPU tensors)
    max_nonfinite_in_a_row: int = 20  # then stop; the last good checkpoint stays
    dist_timeout_s: float = 1800.0  # a collective waiting longer than this fails the run
    name: str = ""  # free text, e.g. the paper variant id

    def __post_init__(self) -> None:
        if self.max_nonfinite_in_a_row < 1:
            raise ConfigError("max_nonfinite_in_a_row must be >= 1")
        check_consistent(self)


def check_consistent(cfg: TrainConfig) -> None:
    """Cross-section checks: the data policy, the towers and the loss weights fit."""
    policy = cfg.data.dub_policy
    if policy.audio_only:
        if cfg.model.audio is None:
            raise ConfigError(f"data.dub_policy={str(policy)!r} needs model.audio")
        if cfg.model.video is not None:
            raise ConfigError("audio-only training has no video: set model.video to null")
        if cfg.loss.lambda_a <= 0:
            raise ConfigError("audio-only training optimises L_a alone: set loss.lambda_a > 0")
    elif cfg.model.video is None or cfg.model.audio is None:
        raise ConfigError("cross-modal training needs model.video and model.audio; "
                          "for audio only use data.dub_policy=audio_only")
    if cfg.model.head is None:
        raise ConfigError("pretraining needs projection heads: model.head must be set")
    # the tower's input size must be what the loader and transforms produce
    same: list[tuple[str, int, str, int]] = []
    if cfg.model.video is not None:
        same += [("model.video.frames", cfg.model.video.frames,
                  "data.video.num_frames", cfg.data.video.num_frames),
                 ("model.video.crop", cfg.model.video.crop, "data.video.crop", cfg.data.video.crop)]
    if cfg.model.audio is not None:
        same += [("model.audio.channels", cfg.model.audio.channels,
                  "data.audio.channels", cfg.data.audio.channels),
                 ("model.audio.mel_bins", cfg.model.audio.mel_bins,
                  "data.audio.n_mels", cfg.data.audio.n_mels),
                 ("model.audio.mel_frames", cfg.model.audio.mel_frames,
                  "data.audio.frames", cfg.data.audio.frames)]
    for model_key, model_value, data_key, data_value in same:
        if model_value != data_value:
            raise ConfigError(f"{model_key}={model_value} but {data_key}={data_value}; "
                              "make them equal")
