"""The paper's objective (SPEC "Objective", paper eq. 1-3).

For instance ``i`` and a pair of views ``(x, y)`` (video/audio, or two views of one
modality) the positive is ``(x_i, y_i)`` and the one denominator holds the positive plus
every cross pair ``(x_i, y_j)`` and ``(x_j, y_i)``, ``j != i``::

    l_i(x, y) = logsumexp_j[ s(x_i, y_j) ; s(x_j, y_i), j != i ] - s(x_i, y_i)
    s(x, y)   = x . y / tau        (x, y L2-normalised)

    L   = 1/2 sum_i ( l_i(v_p, a_s) + l_i(v_s, a_p) )
    L_v = sum_i l_i(v_p, v_s)        L_a = sum_i l_i(a_p, a_s)
    total = L + lambda_v L_v + lambda_a L_a

Normalisation: the paper writes sums over the batch. With ``reduction="mean"`` (the
default) every term is divided by the global batch size: the same minimiser, the same
AdamW update up to its epsilon (Adam is invariant to a constant loss scale), and logged
values and gradient-clipping thresholds that do not change with the batch size or the
number of GPUs. ``reduction="sum"`` gives the paper's literal sums.

Across ranks (local-loss form, as open_clip): every rank gathers the embeddings of the
whole global batch *with gradient* and computes ``l_i`` only for its own rows against the
global batch. The returned objective is the local mean (or ``world_size`` x the local sum),
so that DDP's gradient averaging yields exactly the gradient of the global objective.

Batches without a secondary audio (dub policy ``separated``) use ``a_p`` in place of
``a_s`` in ``L`` and have no ``L_a``; audio-only batches have neither ``L`` nor ``L_v``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from dubclr.errors import ConfigError

# (local embeddings) -> (global embeddings, row offset of the local rows in them)
GatherFn = Callable[[torch.Tensor], tuple[torch.Tensor, int]]

EMBEDDING_KEYS = ("video_p", "video_s", "audio_p", "audio_s")


@dataclass
class LossConfig:
    temperature: float = 0.07
    lambda_v: float = 0.0  # weight of the within-video term L_v
    lambda_a: float = 0.0  # weight of the within-audio term L_a
    reduction: Literal["mean", "sum"] = "mean"

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"loss.temperature must be > 0, got {self.temperature}")
        if self.lambda_v < 0 or self.lambda_a < 0:
            raise ConfigError("loss.lambda_v and loss.lambda_a must be >= 0")


def local_gather(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The single-process gather: the local batch is the global batch."""
    return t, 0


def pair_loss(x_local: torch.Tensor, y_local: torch.Tensor, x_all: torch.Tensor,
              y_all: torch.Tensor, offset: int, temperature: float) -> torch.Tensor:
    """``l_i(x, y)`` (eq. 1) for the local rows ``i``, negatives from the global batch.

    ``x_all``/``y_all`` hold the global batch; the local rows sit at ``offset``.
    Returns a ``(n_local,)`` tensor.
    """
    n = x_local.shape[0]
    rows = torch.arange(n, device=x_local.device)
    own = rows + offset
    sim_xy = x_local @ y_all.T / temperature  # s(x_i, y_j) for all j, positive included
    if x_all is x_local and y_all is y_local:
        sim_yx = sim_xy.T  # one process: s(x_j, y_i) is the transpose
    else:
        sim_yx = y_local @ x_all.T / temperature  # s(x_j, y_i) for all j
    positive = sim_xy[rows, own]
    # the positive is counted once: drop it from the second half of the denominator
    minus_inf = torch.tensor(float("-inf"), dtype=sim_yx.dtype, device=sim_yx.device)
    sim_yx = sim_yx.index_put((rows, own), minus_inf)
    denominator = torch.logaddexp(torch.logsumexp(sim_xy, dim=1), torch.logsumexp(sim_yx, dim=1))
    return denominator - positive


@dataclass
class LossOutput:
    """``objective`` is what to backpropagate on this rank; ``sums`` hold the local sums
    of each term over this rank's rows (for logging after an all-reduce), ``count`` the
    number of local rows."""

    objective: torch.Tensor
    sums: dict[str, torch.Tensor]
    count: int


class DubContrastiveLoss(nn.Module):
    """total = L + lambda_v L_v + lambda_a L_a over the global batch."""

    def __init__(self, config: LossConfig | None = None) -> None:
        super().__init__()
        self.config = config or LossConfig()

    def forward(self, emb: dict[str, torch.Tensor], gather: GatherFn = local_gather,
                world_size: int = 1) -> LossOutput:
        unknown = set(emb) - set(EMBEDDING_KEYS)
        if unknown:
            raise ValueError(f"unexpected embeddings {sorted(unknown)}; use {EMBEDDING_KEYS}")
        # the similarities are computed in at least float32, also under autocast
        emb = {k: v.float() if v.element_size() < 4 else v for k, v in emb.items()}
        device_type = next(iter(emb.values())).device.type
        with torch.autocast(device_type=device_type, enabled=False):
            return self._terms(emb, gather, world_size)

    def _terms(self, emb: dict[str, torch.Tensor], gather: GatherFn,
               world_size: int) -> LossOutput:
        cfg = self.config
        gathered = {k: gather(v) for k, v in emb.items()}

        def term(x: str, y: str) -> torch.Tensor:
            (x_all, offset), (y_all, _) = gathered[x], gathered[y]
            return pair_loss(emb[x], emb[y], x_all, y_all, offset, cfg.temperature)

        weights = {"L": 1.0, "L_v": cfg.lambda_v, "L_a": cfg.lambda_a}
        per_row: dict[str, torch.Tensor] = {}
        has_video = "video_p" in emb and "video_s" in emb
        if has_video and "audio_p" in emb:
            a_s = "audio_s" if "audio_s" in emb else "audio_p"
            per_row["L"] = 0.5 * (term("video_p", a_s) + term("video_s", "audio_p"))
        # A term with weight 0 is still computed (and logged), without a graph.
        with torch.set_grad_enabled(torch.is_grad_enabled() and cfg.lambda_v > 0):
            if has_video:
                per_row["L_v"] = term("video_p", "video_s")
        with torch.set_grad_enabled(torch.is_grad_enabled() and cfg.lambda_a > 0):
            if "audio_p" in emb and "audio_s" in emb:
                per_row["L_a"] = term("audio_p", "audio_s")
        if not any(weights[k] > 0 for k in per_row):
            raise ConfigError(
                f"the batch gives the terms {sorted(per_row)} and all their weights are 0; "
                "for audio-only training set loss.lambda_a > 0")
        rows = next(iter(per_row.values()))
        total = sum(weights[k] * v for k, v in per_row.items() if weights[k] > 0)
        count = rows.shape[0]
        scale = 1.0 / count if cfg.reduction == "mean" else float(world_size)
        sums = {k: v.detach().sum() for k, v in per_row.items()}
        sums["loss"] = total.detach().sum()
        return LossOutput(objective=total.sum() * scale, sums=sums, count=count)
