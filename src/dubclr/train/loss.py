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
whole global batch *with gradient* (:func:`gather_with_grad`) and computes ``l_i`` only for
its own rows against the global batch. The returned objective is the local mean (or
``world_size`` x the local sum), so that DDP's gradient averaging yields exactly the
gradient of the global objective.

Which terms a batch feeds is the dub policy's to say (``DubPolicy.loss_terms``): without a
secondary audio (``separated``) ``a_p`` stands in for ``a_s`` in ``L`` and there is no
``L_a``; audio-only batches have ``L_a`` alone. The default is all three terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist
from torch import nn

from dubclr.data.policies import DubPolicy, LossTerms, views_of
from dubclr.errors import ConfigError

# (local embeddings) -> (global embeddings, row offset of the local rows in them)
GatherFn = Callable[[torch.Tensor], tuple[torch.Tensor, int]]

ALL_TERMS: LossTerms = DubPolicy("random").loss_terms  # L, L_v and L_a


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


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient and returns the local slice."""

    @staticmethod
    def forward(ctx, local: torch.Tensor) -> torch.Tensor:
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(local) for _ in range(world)]
        dist.all_gather(parts, local.contiguous())
        ctx.rank, ctx.n = rank, local.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n]


def gather_with_grad(local: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The global batch (rank order) and the offset of this rank's rows in it.

    Every rank must hold the same number of rows (the loaders drop the last partial
    batch). Without a process group it is :func:`local_gather`."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local, 0
    return _GatherWithGrad.apply(local), dist.get_rank() * local.shape[0]


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
    """total = L + lambda_v L_v + lambda_a L_a over the global batch, for the terms
    ``terms`` names (``DubPolicy.loss_terms``; default all three)."""

    def __init__(self, config: LossConfig | None = None, terms: LossTerms | None = None) -> None:
        super().__init__()
        self.config = config or LossConfig()
        self.terms = dict(ALL_TERMS if terms is None else terms)
        weights = self.weights
        if not any(weights[name] > 0 for name in self.terms):
            raise ConfigError(
                f"the dub policy gives the loss terms {sorted(self.terms)} and all their "
                "weights are 0; for audio-only training set loss.lambda_a > 0")

    @property
    def weights(self) -> dict[str, float]:
        return {"L": 1.0, "L_v": self.config.lambda_v, "L_a": self.config.lambda_a}

    @property
    def views(self) -> tuple[str, ...]:
        """The embeddings the terms need (the batch's views)."""
        return views_of(self.terms)

    def forward(self, emb: dict[str, torch.Tensor], gather: GatherFn = local_gather,
                world_size: int = 1) -> LossOutput:
        if set(emb) != set(self.views):
            raise ValueError(f"the loss terms {sorted(self.terms)} need the embeddings "
                             f"{list(self.views)}, got {sorted(emb)}")
        cfg, weights = self.config, self.weights
        # the similarities are computed in at least float32, also under autocast
        emb = {k: v.float() if v.element_size() < 4 else v for k, v in emb.items()}
        per_row: dict[str, torch.Tensor] = {}
        with torch.autocast(device_type=next(iter(emb.values())).device.type, enabled=False):
            gathered = {k: gather(v) for k, v in emb.items()}  # (global batch, local offset)
            for name, pairs in self.terms.items():
                # a term with weight 0 is still computed (and logged), without a graph
                with torch.set_grad_enabled(torch.is_grad_enabled() and weights[name] > 0):
                    per_row[name] = sum(
                        pair_loss(emb[x], emb[y], gathered[x][0], gathered[y][0], gathered[x][1],
                                  cfg.temperature) for x, y in pairs) / len(pairs)
        total = sum(weights[k] * v for k, v in per_row.items() if weights[k] > 0)
        count = total.shape[0]
        scale = 1.0 / count if cfg.reduction == "mean" else float(world_size)
        sums = {k: v.detach().sum() for k, v in per_row.items()}
        sums["loss"] = total.detach().sum()
        return LossOutput(objective=total.sum() * scale, sums=sums, count=count)
