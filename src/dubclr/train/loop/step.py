"""One optimizer step: micro-batches -> embeddings -> global-batch loss -> guarded update."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dubclr.train.distributed import DistEnv, all_reduce_sum, gather_with_grad
from dubclr.train.loss import DubContrastiveLoss


@dataclass
class StepResult:
    sums: dict[str, torch.Tensor]  # this rank's sums of each loss term
    count: int  # this rank's instances
    grad_norm: float  # nan when the step was skipped before clipping
    finite: bool  # agreed by every rank; False: the update was skipped
    stop: bool  # some rank received SIGTERM/SIGINT


def embed_batch(model: nn.Module, batch: dict, video_tf: nn.Module | None,
                audio_tf: nn.Module | None, device: torch.device,
                autocast: contextlib.AbstractContextManager) -> dict[str, torch.Tensor]:
    """Projections of the batch's views (``video_p``... keys), in one model call.

    Each view goes through its transform on its own (own augmentation draws); the
    primary and secondary views share one forward, as DDP expects one call per step."""
    def prepared(key: str, tf: nn.Module | None) -> torch.Tensor:
        x = batch[key].to(device, non_blocking=True)
        return tf(x) if tf is not None else x

    v_keys = [k for k in ("video_p", "video_s") if k in batch]
    a_keys = [k for k in ("audio_p", "audio_s") if k in batch]
    videos = [prepared(k, video_tf) for k in v_keys]
    audios = [prepared(k, audio_tf) for k in a_keys]
    with autocast:
        out = model(video=torch.cat(videos) if videos else None,
                    audio=torch.cat(audios) if audios else None)
    emb: dict[str, torch.Tensor] = {}
    for keys, name in ((v_keys, "video"), (a_keys, "audio")):
        if keys:
            emb.update(zip(keys, out[name].chunk(len(keys))))
    return emb


class StepRunner:
    """Runs optimizer steps; holds what every step needs."""

    def __init__(self, model: nn.Module, loss: DubContrastiveLoss,
                 optimizer: torch.optim.Optimizer, env: DistEnv, *,
                 video_tf: nn.Module | None, audio_tf: nn.Module | None,
                 grad_clip: float | None, autocast_dtype: torch.dtype | None) -> None:
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.env = env
        self.video_tf = video_tf
        self.audio_tf = audio_tf
        self.grad_clip = grad_clip
        self.autocast_dtype = autocast_dtype
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.gather = gather_with_grad if env.distributed else (lambda t: (t, 0))

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.env.device.type, dtype=self.autocast_dtype)

    def _micro_context(self, last: bool) -> contextlib.AbstractContextManager:
        if isinstance(self.model, DistributedDataParallel) and not last:
            return self.model.no_sync()  # accumulate locally; all-reduce on the last one
        return contextlib.nullcontext()

    def run(self, batches: list[dict], stop_requested: bool) -> StepResult:
        self.model.train()
        # a skipped step must not leave NaN in BatchNorm running statistics
        buffers = [b.detach().clone() for b in self.model.buffers()]
        sums: dict[str, torch.Tensor] = {}
        count = 0
        finite_local = True
        for i, batch in enumerate(batches):
            with self._micro_context(last=i == len(batches) - 1):
                emb = embed_batch(self.model, batch, self.video_tf, self.audio_tf,
                                  self.env.device, self._autocast())
                out = self.loss(emb, gather=self.gather, world_size=self.env.world_size)
                (out.objective / len(batches)).backward()
            finite_local &= bool(torch.isfinite(out.objective).item())
            for key, value in out.sums.items():
                sums[key] = sums.get(key, 0.0) + value
            count += out.count
        flags = torch.tensor([0.0 if finite_local else 1.0, 1.0 if stop_requested else 0.0],
                             device=self.env.device)
        all_reduce_sum(flags)
        finite = flags[0].item() == 0
        grad_norm = math.nan
        if finite:
            max_norm = self.grad_clip if self.grad_clip is not None else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, max_norm))
            finite = math.isfinite(grad_norm)  # equal on every rank after DDP's all-reduce
        if finite:
            self.optimizer.step()
        else:
            with torch.no_grad():
                for b, saved in zip(self.model.buffers(), buffers):
                    b.copy_(saved)
        self.optimizer.zero_grad(set_to_none=True)
        return StepResult(sums=sums, count=count, grad_norm=grad_norm, finite=finite,
                          stop=flags[1].item() > 0)
