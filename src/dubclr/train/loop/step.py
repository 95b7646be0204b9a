"""One optimizer step: micro-batches -> views -> model -> global-batch loss -> guarded update.

``TrainStep.run(batches)``, for each micro-batch (one contrastive batch each):
``embed_views`` puts the views the loss needs through their transforms (drawing from the
run's augmentation generator) and the model, in one call; the loss (``loss.py``) gathers the
global batch and returns this rank's objective; backward. Then every rank agrees whether
the step is finite and whether a stop was asked for; a finite step is clipped and taken
(``optimizer.step()``), a non-finite one is skipped with BatchNorm statistics restored.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dubclr.data.transforms import ViewTransforms
from dubclr.train.distributed import DistEnv
from dubclr.train.loss import DubContrastiveLoss, gather_with_grad


@dataclass
class StepResult:
    sums: dict[str, torch.Tensor]  # this rank's sums of each loss term
    count: int  # this rank's instances
    grad_norm: float  # nan when the step was skipped before clipping
    finite: bool  # agreed by every rank; False: the update was skipped
    stop: bool  # some rank received SIGTERM/SIGINT


def embed_views(model: nn.Module, batch: dict, views: tuple[str, ...],
                transforms: ViewTransforms, device: torch.device,
                autocast: contextlib.AbstractContextManager) -> dict[str, torch.Tensor]:
    """Projections of the batch's ``views`` (``video_p``...), in one model call.

    Each view goes through its transform on its own (its own augmentation draws); the
    primary and secondary views share one forward, as DDP expects one call per step."""
    inputs = {v: transforms(v, batch[v].to(device, non_blocking=True)) for v in views}
    videos = [inputs[v] for v in views if v.startswith("video")]
    audios = [inputs[v] for v in views if v.startswith("audio")]
    with autocast:
        out = model(video=torch.cat(videos) if videos else None,
                    audio=torch.cat(audios) if audios else None)
    emb: dict[str, torch.Tensor] = {}
    for modality, chunks in (("video", videos), ("audio", audios)):
        if chunks:
            names = [v for v in views if v.startswith(modality)]
            emb.update(zip(names, out[modality].chunk(len(names))))
    return emb


class TrainStep:
    """Runs optimizer steps; holds what every step needs."""

    def __init__(self, model: nn.Module, loss: DubContrastiveLoss,
                 optimizer: torch.optim.Optimizer, env: DistEnv, *, transforms: ViewTransforms,
                 grad_clip: float | None, autocast_dtype: torch.dtype | None) -> None:
        self.model = model  # as trained: possibly compiled and DDP-wrapped
        self.loss = loss
        self.optimizer = optimizer
        self.env = env
        self.transforms = transforms
        self.grad_clip = grad_clip
        self.autocast_dtype = autocast_dtype
        self.params = [p for p in model.parameters() if p.requires_grad]

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.env.device.type, dtype=self.autocast_dtype)

    def run(self, batches: list[dict], stop_requested: bool) -> StepResult:
        self.model.train()
        # a skipped step must not leave NaN in BatchNorm running statistics
        buffers = [b.detach().clone() for b in self.model.buffers()]
        sums: dict[str, torch.Tensor] = {}
        count = 0
        finite_local = True
        for i, batch in enumerate(batches):
            # DDP: accumulate gradients locally, all-reduce them with the last micro-batch
            local = isinstance(self.model, DistributedDataParallel) and i < len(batches) - 1
            with self.model.no_sync() if local else contextlib.nullcontext():
                emb = embed_views(self.model, batch, self.loss.views, self.transforms,
                                  self.env.device, self.autocast())
                out = self.loss(emb, gather=gather_with_grad, world_size=self.env.world_size)
                (out.objective / len(batches)).backward()
            finite_local &= bool(torch.isfinite(out.objective).item())
            for key, value in out.sums.items():
                sums[key] = sums.get(key, 0.0) + value
            count += out.count
        flags = torch.tensor([0.0 if finite_local else 1.0, 1.0 if stop_requested else 0.0],
                             device=self.env.device)
        if self.env.distributed:
            dist.all_reduce(flags, op=dist.ReduceOp.SUM)  # any rank: not finite / stop
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

    def count_flops(self, module: nn.Module, batch: dict, micro_batches: int) -> float:
        """FLOPs of one step, estimated as 3x the forward (backward ~ 2x) of each of its
        ``micro_batches``, counted on ``module`` (the unwrapped model) by a forward that
        changes no state: eval mode, and transforms drawing from a scratch generator."""
        from torch.utils.flop_counter import FlopCounterMode

        scratch = self.transforms.with_generator(torch.Generator().manual_seed(0))
        module.eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            embed_views(module, batch, self.loss.views, scratch, self.env.device, self.autocast())
        module.train()
        return 3.0 * counter.get_total_flops() * micro_batches
