"""MViTv2 pooling attention with decomposed relative positions.

Two numerically equivalent paths: ``"sdpa"`` passes the rel-pos terms to
``F.scaled_dot_product_attention`` as an additive bias (fused kernels on GPU), ``"explicit"``
writes out scores, softmax and the weighted sum as the reference does (kept for checking).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dubclr.models.mvit.spec import BlockSpec

Grid = tuple[int, int, int]
ATTENTION_IMPLS = ("sdpa", "explicit")


def resize_rel_pos(table: torch.Tensor, rows: int) -> torch.Tensor:
    """Linearly resample a (L, C) table to ``rows`` rows (align_corners=False) if L differs."""
    if table.shape[0] == rows:
        return table
    resized = F.interpolate(table.t().unsqueeze(0), size=rows, mode="linear")
    return resized.squeeze(0).t()


def rel_pos_lookup(table: torch.Tensor, q_size: int, k_size: int) -> torch.Tensor:
    """(q_size, k_size, C) embeddings of the relative distance between query and key positions.

    Grids of different size are compared on a common scale; distances are truncated to int
    after float32 arithmetic, exactly like the reference.
    """
    table = resize_rel_pos(table, 2 * max(q_size, k_size) - 1)
    q_ratio = max(k_size / q_size, 1.0)
    k_ratio = max(q_size / k_size, 1.0)
    q_pos = torch.arange(q_size, device=table.device, dtype=torch.float32)[:, None] * q_ratio
    k_pos = torch.arange(k_size, device=table.device, dtype=torch.float32)[None, :] * k_ratio
    dist = q_pos - k_pos + (k_size - 1) * k_ratio
    return table[dist.long()]


def rel_pos_bias(q: torch.Tensor, q_grid: Grid, k_grid: Grid, rel_pos_h: torch.Tensor | None,
                 rel_pos_w: torch.Tensor | None, rel_pos_t: torch.Tensor | None) -> torch.Tensor:
    """Additive attention bias (B, heads, Nq, Nk) over the spatial tokens (no cls).

    ``q`` holds the pooled, normed, unscaled spatial queries (B, heads, Nq, C).
    """
    b, heads, _, c = q.shape
    qt, qh, qw = q_grid
    kt, kh, kw = k_grid
    r_q = q.reshape(b, heads, qt, qh, qw, c)
    bias = q.new_zeros(())
    if rel_pos_h is not None and rel_pos_w is not None:
        term_h = torch.einsum("bythwc,hkc->bythwk", r_q, rel_pos_lookup(rel_pos_h, qh, kh))
        term_w = torch.einsum("bythwc,wkc->bythwk", r_q, rel_pos_lookup(rel_pos_w, qw, kw))
        bias = bias + term_h[..., None, :, None] + term_w[..., None, None, :]
    if rel_pos_t is not None:
        term_t = torch.einsum("bythwc,tkc->bythwk", r_q, rel_pos_lookup(rel_pos_t, qt, kt))
        bias = bias + term_t[..., :, None, None]
    bias = bias.expand(b, heads, qt, qh, qw, kt, kh, kw)
    return bias.reshape(b, heads, qt * qh * qw, kt * kh * kw)


class MultiScaleAttention(nn.Module):
    """Pooling attention of one block. Parameter names follow the reference state_dict."""

    def __init__(self, spec: BlockSpec, *, has_cls: bool, qkv_bias: bool = True,
                 residual_pooling: bool = True, eps: float = 1e-6,
                 attention: str = "sdpa") -> None:
        super().__init__()
        self.num_heads = spec.num_heads
        self.dim_out = spec.dim_out
        self.has_cls = has_cls
        self.residual_pooling = residual_pooling
        self.attention = attention
        head_dim = spec.head_dim
        self.scale = head_dim ** -0.5
        # Own parameters come first in the state_dict, as in the reference.
        self.rel_pos_h = self.rel_pos_w = self.rel_pos_t = None
        if spec.rel_pos_rows:
            self.rel_pos_h = nn.Parameter(torch.zeros(spec.rel_pos_rows, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(spec.rel_pos_rows, head_dim))
        if spec.rel_pos_t_rows:
            self.rel_pos_t = nn.Parameter(torch.zeros(spec.rel_pos_t_rows, head_dim))
        self.qkv = nn.Linear(spec.dim_in, 3 * spec.dim_out, bias=qkv_bias)
        self.proj = nn.Linear(spec.dim_out, spec.dim_out)
        self.pool_q = self.norm_q = self.pool_k = self.norm_k = self.pool_v = self.norm_v = None
        if spec.pools_q:
            self.pool_q = _pool_conv(head_dim, spec.kernel_q, spec.stride_q)
            self.norm_q = nn.LayerNorm(head_dim, eps=eps)
        if spec.pools_kv:
            self.pool_k = _pool_conv(head_dim, spec.kernel_kv, spec.stride_kv)
            self.norm_k = nn.LayerNorm(head_dim, eps=eps)
            self.pool_v = _pool_conv(head_dim, spec.kernel_kv, spec.stride_kv)
            self.norm_v = nn.LayerNorm(head_dim, eps=eps)

    def forward(self, x: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, Grid]:
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, head_dim)
        q, q_grid = self._pool(q, self.pool_q, self.norm_q, grid)
        k, k_grid = self._pool(k, self.pool_k, self.norm_k, grid)
        v, _ = self._pool(v, self.pool_v, self.norm_v, grid)

        sp = 1 if self.has_cls else 0
        bias = None
        if self.rel_pos_h is not None or self.rel_pos_t is not None:
            bias = rel_pos_bias(q[:, :, sp:], q_grid, k_grid,
                                self.rel_pos_h, self.rel_pos_w, self.rel_pos_t)
            if sp:  # cls rows and columns get no relative position
                bias = F.pad(bias, (sp, 0, sp, 0))
        if self.attention == "explicit":
            attn = (q * self.scale) @ k.transpose(-2, -1)
            if bias is not None:
                attn = attn + bias
            out = attn.softmax(dim=-1) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        if self.residual_pooling:
            if sp:
                out = torch.cat([out[:, :, :sp], out[:, :, sp:] + q[:, :, sp:]], dim=2)
            else:
                out = out + q
        out = out.transpose(1, 2).reshape(b, -1, self.dim_out)
        return self.proj(out), q_grid

    def _pool(self, t: torch.Tensor, pool: nn.Module | None, norm: nn.Module | None,
              grid: Grid) -> tuple[torch.Tensor, Grid]:
        """Depthwise conv over the token grid (cls bypasses it), then LayerNorm incl. cls."""
        if pool is None:
            return t, grid
        return pool_tokens(t, pool, grid, self.has_cls, norm)


def pool_tokens(t: torch.Tensor, pool: nn.Module, grid: Grid, has_cls: bool,
                norm: nn.Module | None = None) -> tuple[torch.Tensor, Grid]:
    """Apply a 3-D ``pool`` to (B, heads, N, C) tokens laid out on ``grid``."""
    if has_cls:
        cls_tok, t = t[:, :, :1], t[:, :, 1:]
    b, heads, _, c = t.shape
    vol = t.reshape(b * heads, *grid, c).permute(0, 4, 1, 2, 3)
    vol = pool(vol)
    new_grid = (vol.shape[2], vol.shape[3], vol.shape[4])
    t = vol.reshape(b, heads, c, -1).transpose(2, 3)
    if has_cls:
        t = torch.cat([cls_tok, t], dim=2)
    if norm is not None:
        t = norm(t)
    return t, new_grid


def _pool_conv(channels: int, kernel: tuple[int, ...], stride: tuple[int, ...]) -> nn.Conv3d:
    """Depthwise conv shared by all heads (heads are folded into the batch)."""
    return nn.Conv3d(channels, channels, kernel, stride=stride,
                     padding=tuple(k // 2 for k in kernel), groups=channels, bias=False)
