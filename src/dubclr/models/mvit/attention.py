"""MViTv2 pooling attention with decomposed relative positions.

Three numerically equivalent paths: ``"sdpa"`` passes the rel-pos terms to
``F.scaled_dot_product_attention`` as an additive bias (fused kernels on GPU; the bias is
materialised as a (B, heads, Nq, Nk) tensor), ``"flex"`` gives FlexAttention a score modifier
that adds the three decomposed terms inside the kernel (no materialised bias; fused when
compiled, on GPU), ``"explicit"`` writes out scores, softmax and the weighted sum as the
reference does (kept for checking).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dubclr.models.mvit.spec import BlockSpec

Grid = tuple[int, int, int]
ATTENTION_IMPLS = ("sdpa", "flex", "explicit")


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


def rel_pos_terms(q: torch.Tensor, q_grid: Grid, k_grid: Grid, rel_pos_h: torch.Tensor | None,
                  rel_pos_w: torch.Tensor | None, rel_pos_t: torch.Tensor | None
                  ) -> dict[str, torch.Tensor]:
    """The decomposed rel-pos terms over the spatial tokens (no cls): ``h``, ``w``, ``t``,
    each (B, heads, qt, qh, qw, k_axis), present when the tower has that table.

    ``q`` holds the pooled, normed, unscaled spatial queries (B, heads, Nq, C).
    """
    b, heads, _, c = q.shape
    qt, qh, qw = q_grid
    kt, kh, kw = k_grid
    r_q = q.reshape(b, heads, qt, qh, qw, c)
    terms = {}
    if rel_pos_h is not None and rel_pos_w is not None:
        terms["h"] = torch.einsum("bythwc,hkc->bythwk", r_q, rel_pos_lookup(rel_pos_h, qh, kh))
        terms["w"] = torch.einsum("bythwc,wkc->bythwk", r_q, rel_pos_lookup(rel_pos_w, qw, kw))
    if rel_pos_t is not None:
        terms["t"] = torch.einsum("bythwc,tkc->bythwk", r_q, rel_pos_lookup(rel_pos_t, qt, kt))
    return terms


def rel_pos_bias(q: torch.Tensor, q_grid: Grid, k_grid: Grid, rel_pos_h: torch.Tensor | None,
                 rel_pos_w: torch.Tensor | None, rel_pos_t: torch.Tensor | None) -> torch.Tensor:
    """Additive attention bias (B, heads, Nq, Nk) over the spatial tokens (no cls)."""
    b, heads = q.shape[:2]
    qt, qh, qw = q_grid
    kt, kh, kw = k_grid
    terms = rel_pos_terms(q, q_grid, k_grid, rel_pos_h, rel_pos_w, rel_pos_t)
    bias = q.new_zeros(())
    if "h" in terms:
        bias = bias + terms["h"][..., None, :, None] + terms["w"][..., None, None, :]
    if "t" in terms:
        bias = bias + terms["t"][..., :, None, None]
    bias = bias.expand(b, heads, qt, qh, qw, kt, kh, kw)
    return bias.reshape(b, heads, qt * qh * qw, kt * kh * kw)


def rel_pos_score_mod(terms: dict[str, torch.Tensor], k_grid: Grid, cls_tokens: int):
    """A FlexAttention score modifier adding the decomposed rel-pos terms of ``terms``.

    Query and key indices count the cls token first (``cls_tokens`` of them); cls rows and
    columns get no relative position, as in the bias path."""
    _, kh, kw = k_grid
    flat = {axis: t.flatten(2, 4) for axis, t in terms.items()}  # (B, heads, Nq_sp, k_axis)

    def score_mod(score, b, h, q_idx, kv_idx):
        qs = q_idx - cls_tokens
        ks = kv_idx - cls_tokens
        q_row = torch.clamp(qs, min=0)
        k_pos = torch.clamp(ks, min=0)
        bias = torch.zeros_like(score)
        if "h" in flat:
            bias = bias + flat["h"][b, h, q_row, (k_pos // kw) % kh] + flat["w"][b, h, q_row, k_pos % kw]
        if "t" in flat:
            bias = bias + flat["t"][b, h, q_row, k_pos // (kh * kw)]
        return score + torch.where((qs >= 0) & (ks >= 0), bias, torch.zeros_like(bias))

    return score_mod


def flex_attention_fn():
    """(compiled, eager) FlexAttention. The compiled one is a fused kernel on CUDA; inside an
    outer ``torch.compile`` the eager one is traced and fused too; on CPU without compile the
    eager one is an unfused reference (forward only: CPU has no FlexAttention backward)."""
    from torch.nn.attention import flex_attention as fa

    global _COMPILED_FLEX
    if _COMPILED_FLEX is None:
        _COMPILED_FLEX = torch.compile(fa.flex_attention, dynamic=False)
    return _COMPILED_FLEX, fa.flex_attention


_COMPILED_FLEX = None


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
        has_rel_pos = self.rel_pos_h is not None or self.rel_pos_t is not None
        if self.attention == "flex":
            out = self._flex(q, k, v, q_grid, k_grid, sp, has_rel_pos)
        else:
            bias = None
            if has_rel_pos:
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
                if bias is not None and torch.compiler.is_compiling():
                    k, v, bias = pad_keys_for_compile(k, v, bias)
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        if self.residual_pooling:
            if sp:
                out = torch.cat([out[:, :, :sp], out[:, :, sp:] + q[:, :, sp:]], dim=2)
            else:
                out = out + q
        out = out.transpose(1, 2).reshape(b, -1, self.dim_out)
        return self.proj(out), q_grid

    def _flex(self, q, k, v, q_grid: Grid, k_grid: Grid, sp: int, has_rel_pos: bool):
        score_mod = None
        if has_rel_pos:
            terms = rel_pos_terms(q[:, :, sp:], q_grid, k_grid,
                                  self.rel_pos_h, self.rel_pos_w, self.rel_pos_t)
            score_mod = rel_pos_score_mod(terms, k_grid, sp)
        compiled, eager = flex_attention_fn()
        # one dtype for q, k, v: autocast's (as SDPA gets under autocast), else the widest
        device = q.device.type
        if torch.is_autocast_enabled(device):
            dtype = torch.get_autocast_dtype(device)
        else:
            dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
        q_, k_, v_ = q.to(dtype), k.to(dtype), v.to(dtype)
        if torch.compiler.is_compiling() or not q.is_cuda:  # outer compile fuses it; CPU: eager
            out = eager(q_, k_, v_, score_mod=score_mod, scale=self.scale)
        else:
            out = compiled(q_, k_, v_, score_mod=score_mod, scale=self.scale)
        return out.to(q.dtype)

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
    vol = depthwise_pool(vol, pool)
    new_grid = (vol.shape[2], vol.shape[3], vol.shape[4])
    t = vol.reshape(b, heads, c, -1).transpose(2, 3)
    if has_cls:
        t = torch.cat([cls_tok, t], dim=2)
    if norm is not None:
        t = norm(t)
    return t, new_grid


def pad_keys_for_compile(k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, multiple: int = 16):
    """Pad the keys to a multiple of 16, the padded ones masked with -inf.

    Eager SDPA pads an unaligned additive mask for the memory-efficient kernel itself; under
    ``torch.compile`` (torch 2.11) inductor pads it to 8 only and the kernel refuses it
    ("cutlassF: no kernel found to launch") for key counts such as 54 (audio stage 1)."""
    extra = -k.shape[2] % multiple
    if extra == 0:
        return k, v, bias
    k = F.pad(k, (0, 0, 0, extra))
    v = F.pad(v, (0, 0, 0, extra))
    bias = F.pad(bias, (0, extra), value=float("-inf"))
    return k, v, bias


def depthwise_pool(vol: torch.Tensor, pool: nn.Module) -> torch.Tensor:
    """The pooling (a depthwise conv, or max/avg pooling) of a (N, C, T, H, W) volume.

    ``vol`` arrives as a channels-last view of the tokens. On CUDA it is made contiguous
    first: cuDNN's bf16 depthwise 3-D conv on the view ran the stage-1 q-pooling of a
    64-quadruplet MViTv2-S step 7x slower (277 ms vs 39 ms fwd+bwd on an H200,
    benchmarks/gpu_check.py). CPU keeps the view (bitwise parity with the reference)."""
    return pool(vol.contiguous()) if vol.is_cuda else pool(vol)


def _pool_conv(channels: int, kernel: tuple[int, ...], stride: tuple[int, ...]) -> nn.Conv3d:
    """Depthwise conv shared by all heads (heads are folded into the batch)."""
    return nn.Conv3d(channels, channels, kernel, stride=stride,
                     padding=tuple(k // 2 for k in kernel), groups=channels, bias=False)
