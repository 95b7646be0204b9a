"""An in-memory, deterministic training set for loop tests (a real dataset of random
tensors, with the loader protocol of dubclr.data: len, set_epoch, state_dict).

Each of ``pool`` clips has a latent vector; its video and audio views are two fixed
random projections of it plus noise, so a model can learn to align them. Batch ``b`` of
epoch ``e`` is a pure function of (seed, e, b); rank ``r`` of ``w`` gets rows
``r*n..(r+1)*n`` of the global batch, so any world size sees the same global batches.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

VIDEO_SHAPE = (3, 2, 4, 4)
AUDIO_SHAPE = (1, 6, 8)


class RandomClips:
    def __init__(self, batches_per_epoch: int = 6, batch_size: int = 8, *, rank: int = 0,
                 world_size: int = 1, seed: int = 0, pool: int = 64, latent: int = 6,
                 secondary_audio: bool = True, nan_batches: tuple = (), signal_at: tuple = (),
                 sleep_s: float = 0.0, block_at: tuple | None = None,
                 block_marker: str | None = None) -> None:
        self.batches_per_epoch = batches_per_epoch
        self.n = batch_size
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.secondary_audio = secondary_audio
        self.nan_batches = set(nan_batches)  # (epoch, index) pairs whose video is NaN
        self.signal_at = set(signal_at)  # (epoch, index): send SIGTERM to ourselves
        self.sleep_s = sleep_s
        self.block_at = block_at  # (epoch, index): write block_marker, then wait to be killed
        self.block_marker = block_marker
        g = torch.Generator().manual_seed(seed)
        self.latent = torch.randn(pool, latent, generator=g)
        self.to_video = torch.randn(latent, int(torch.tensor(VIDEO_SHAPE).prod()), generator=g)
        self.to_audio = torch.randn(latent, int(torch.tensor(AUDIO_SHAPE).prod()), generator=g)
        self.epoch = 0
        self.position = 0

    def __len__(self) -> int:
        return self.batches_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """As dubclr.data.TrainLoader: a new epoch starts at 0, the current one keeps its place."""
        if epoch != self.epoch:
            self.epoch, self.position = epoch, 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = state["epoch"], state["position"]

    def _view(self, z: torch.Tensor, proj: torch.Tensor, shape, g) -> torch.Tensor:
        x = z @ proj + 0.3 * torch.randn(z.shape[0], proj.shape[1], generator=g)
        return x.reshape(z.shape[0], *shape)

    def batch(self, epoch: int, index: int) -> dict:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 1009 + index)
        z = self.latent[torch.randperm(self.latent.shape[0], generator=g)[: self.n * self.world_size]]
        views = {"video_p": self._view(z, self.to_video, VIDEO_SHAPE, g),
                 "video_s": self._view(z, self.to_video, VIDEO_SHAPE, g),
                 "audio_p": self._view(z, self.to_audio, AUDIO_SHAPE, g),
                 "audio_s": self._view(z, self.to_audio, AUDIO_SHAPE, g)}
        if not self.secondary_audio:
            del views["audio_s"]
        if (epoch, index) in self.nan_batches:
            views["video_p"] = torch.full_like(views["video_p"], float("nan"))
        mine = slice(self.rank * self.n, (self.rank + 1) * self.n)  # this rank's rows
        return {k: v[mine] for k, v in views.items()}

    def __iter__(self):
        while self.position < self.batches_per_epoch:
            index = self.position
            batch = self.batch(self.epoch, index)
            if (self.epoch, index) in self.signal_at:
                os.kill(os.getpid(), signal.SIGTERM)
            if self.sleep_s:
                time.sleep(self.sleep_s)
            if (self.epoch, index) == self.block_at:
                open(self.block_marker, "w").close()
                time.sleep(3600)
            self.position += 1
            yield batch


class TinyAV(nn.Module):
    """The AVModel interface (forward(video=, audio=) -> L2-normalised projections) on
    flattened toy tensors; ``norm`` adds BatchNorm to the heads, ``dropout`` makes the
    steps draw from the torch RNG (so a resume must restore it)."""

    def __init__(self, dim: int = 8, hidden: int = 16, norm: bool = False,
                 dropout: float = 0.0) -> None:
        super().__init__()
        v_in = int(torch.tensor(VIDEO_SHAPE).prod())
        a_in = int(torch.tensor(AUDIO_SHAPE).prod())
        self.video = nn.Sequential(nn.Flatten(), nn.Linear(v_in, hidden), nn.ReLU())
        self.audio = nn.Sequential(nn.Flatten(), nn.Linear(a_in, hidden), nn.ReLU())
        bn = (lambda: nn.BatchNorm1d(hidden)) if norm else nn.Identity
        self.video_head = nn.Sequential(bn(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.audio_head = nn.Sequential(bn(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, video=None, audio=None) -> dict:
        out = {}
        if video is not None:
            out["video"] = F.normalize(self.video_head(self.video(video)), dim=-1)
        if audio is not None:
            out["audio"] = F.normalize(self.audio_head(self.audio(audio)), dim=-1)
        return out


def toy_config(run_dir, **overrides):
    from dubclr.config import apply_overrides, from_dict
    from dubclr.train.config import TrainConfig

    base = {"run_dir": str(run_dir), "device": "cpu", "seed": 3,
            "optim": {"lr": 3e-3, "grad_clip": 1.0},
            "schedule": {"epochs": 3, "warmup_epochs": 0.5},
            "checkpoint": {"every_steps": 4, "keep_last": 3},
            "log": {"every_steps": 1, "tensorboard": False}}
    return from_dict(TrainConfig, apply_overrides(base, [f"{k}={v}" for k, v in overrides.items()]))


def train(run_dir, resume=None, loader_kwargs=None, model_kwargs=None,
          resume_with_changes=False, **overrides):
    from dubclr.train.distributed import launch_env
    from dubclr.train.loop import Trainer

    rank, world, _ = launch_env()
    torch.manual_seed(0)
    model = TinyAV(**{"dropout": 0.1, **(model_kwargs or {})})
    loader = RandomClips(rank=rank, world_size=world, **(loader_kwargs or {}))
    cfg = toy_config(run_dir, **overrides)
    return Trainer(cfg, model=model, loader=loader, transforms=(None, None), resume=resume,
                   resume_with_changes=resume_with_changes, show_progress=False).fit()


if __name__ == "__main__":  # used by the kill/resume test as a separate process
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--resume", default=None)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--block-at", metavar="EPOCH,INDEX",
                        help="before this batch, create RUN_DIR.blocked and wait to be killed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    loader_kwargs = {"sleep_s": args.sleep}
    if args.block_at:
        loader_kwargs.update(block_at=tuple(int(x) for x in args.block_at.split(",")),
                             block_marker=f"{args.run_dir}.blocked")
    result = train(args.run_dir, resume=args.resume, loader_kwargs=loader_kwargs)
    print(f"done step={result.step}", file=sys.stderr)
