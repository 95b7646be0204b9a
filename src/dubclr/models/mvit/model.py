"""MViTv2 tower: BatchNorm + patch conv stem, pooling-attention blocks, final norm, pooling.

Module and parameter names equal the reference state_dict keys, so the authors' weights load
with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dubclr.errors import ConfigError
from dubclr.models.errors import InputSizeError
from dubclr.models.mvit.attention import ATTENTION_IMPLS, Grid, MultiScaleAttention, pool_tokens
from dubclr.models.mvit.spec import BlockSpec, MViTSpec


class PatchEmbed(nn.Module):
    """BatchNorm (no affine) on the raw input, then the patch conv (the stem normalises pixels)."""

    def __init__(self, spec: MViTSpec) -> None:
        super().__init__()
        conv, norm = (nn.Conv2d, nn.BatchNorm2d) if spec.patch_2d else (nn.Conv3d, nn.BatchNorm3d)
        self.norm = norm(spec.in_chans, affine=False)
        self.proj = conv(spec.in_chans, spec.embed_dim, spec.patch_kernel,
                         stride=spec.patch_stride, padding=spec.patch_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, [T,] H, W) -> tokens (B, T*H*W, D) in row-major (T, H, W) order."""
        x = few_channel_batch_norm(x, self.norm) if x.is_cuda else self.norm(x)
        return self.proj(x).flatten(2).transpose(1, 2)


def few_channel_batch_norm(x: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm) -> torch.Tensor:
    """``bn(x)`` for inputs with few channels (pixels: 3, a spectrogram: 1).

    CUDA's BatchNorm statistics kernel parallelises over channels: with 3 channels of a
    (128, 3, 16, 224, 224) batch it ran 40 ms a step on an H200. A plain ``var_mean`` reduction
    uses the whole GPU. Same outputs and running statistics as ``bn`` (SyncBatchNorm, eval
    mode and untracked statistics go through ``bn`` itself)."""
    if not bn.training or not bn.track_running_stats or isinstance(bn, nn.SyncBatchNorm):
        return bn(x)
    dims = [0, *range(2, x.ndim)]
    var, mean = torch.var_mean(x, dim=dims, correction=0)
    count = x.numel() // x.shape[1]
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
        momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
        bn.running_mean.lerp_(mean.to(bn.running_mean.dtype), momentum)
        unbiased = var * (count / max(count - 1, 1))
        bn.running_var.lerp_(unbiased.to(bn.running_var.dtype), momentum)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + bn.eps)
    if bn.affine:
        out = out * bn.weight.view(shape) + bn.bias.view(shape)
    return out


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DropPath(nn.Module):
    """Stochastic depth per sample (training only)."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rate == 0.0 or not self.training:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class MultiScaleBlock(nn.Module):
    """norm1 -> pooling attention; skip from the NORMED input when the width changes."""

    def __init__(self, spec: BlockSpec, *, has_cls: bool, qkv_bias: bool,
                 residual_pooling: bool, eps: float, attention: str) -> None:
        super().__init__()
        self.has_cls = has_cls
        self.norm1 = nn.LayerNorm(spec.dim_in, eps=eps)
        self.attn = MultiScaleAttention(spec, has_cls=has_cls, qkv_bias=qkv_bias,
                                        residual_pooling=residual_pooling, eps=eps,
                                        attention=attention)
        self.drop_path = DropPath(spec.drop_path)
        self.norm2 = nn.LayerNorm(spec.dim_out, eps=eps)
        self.mlp = Mlp(spec.dim_out, spec.mlp_hidden)
        self.proj = nn.Linear(spec.dim_in, spec.dim_out) if spec.dim_in != spec.dim_out else None
        self.pool_skip = None
        if any(s > 1 for s in spec.stride_q):
            kernel = tuple(s + 1 if s > 1 else s for s in spec.stride_q)
            self.pool_skip = nn.MaxPool3d(kernel, spec.stride_q, tuple(k // 2 for k in kernel))

    def forward(self, x: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, Grid]:
        x_norm = self.norm1(x)
        x_attn, new_grid = self.attn(x_norm, grid)
        skip = self.proj(x_norm) if self.proj is not None else x
        if self.pool_skip is not None:
            skip = pool_tokens(skip.unsqueeze(1), self.pool_skip, grid, self.has_cls)[0].squeeze(1)
        x = skip + self.drop_path(x_attn)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, new_grid


class MViT(nn.Module):
    """One MViTv2 tower; forward (B, C, T, H, W) video or (B, C, H, W) audio -> (B, out_dim).

    ``attention`` picks the SDPA path (default) or the explicit softmax path.
    """

    def __init__(self, spec: MViTSpec, attention: str = "sdpa") -> None:
        super().__init__()
        _check_grid(spec)
        self.spec = spec
        self.out_dim = spec.out_dim
        if spec.cls_embed:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, spec.embed_dim))
        else:
            self.cls_token = None
        self.patch_embed = PatchEmbed(spec)
        self.blocks = nn.ModuleList(
            MultiScaleBlock(b, has_cls=spec.cls_embed, qkv_bias=spec.qkv_bias,
                            residual_pooling=spec.residual_pooling, eps=spec.norm_eps,
                            attention=attention)
            for b in spec.blocks)
        self.norm = nn.LayerNorm(spec.out_dim, eps=spec.norm_eps)
        self.set_attention(attention)
        self.reset_parameters()

    def set_attention(self, attention: str) -> None:
        if attention not in ATTENTION_IMPLS:
            raise ConfigError(f"attention must be one of {ATTENTION_IMPLS}, got {attention!r}")
        self.attention = attention
        for block in self.blocks:
            block.attn.attention = attention

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The reference initialisation (std 0.02 normals, 0.02 biases, LayerNorm 1 / 0.02)."""
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith(("rel_pos_h", "rel_pos_w", "rel_pos_t")):
                nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.02)
            elif isinstance(m, (nn.Conv2d, nn.Conv3d)):
                nn.init.trunc_normal_(m.weight, std=0.02)  # patch conv bias keeps torch default
            elif isinstance(m, nn.LayerNorm):
                nn.init.constant_(m.weight, 1.0)
                nn.init.constant_(m.bias, 0.02)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens after the final LayerNorm, (B, 1 + T*H*W or T*H*W, out_dim)."""
        self._check_input(x)
        x = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        grid = self.spec.token_grid
        for block in self.blocks:
            x, grid = block(x, grid)
        return x if self.spec.use_mean_pooling else self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.forward_tokens(x)
        if self.spec.use_mean_pooling:
            if self.cls_token is not None:
                tokens = tokens[:, 1:]
            return self.norm(tokens.mean(1))
        return tokens[:, 0] if self.cls_token is not None else tokens.mean(1)

    def _check_input(self, x: torch.Tensor) -> None:
        want = self.spec.input_shape
        if tuple(x.shape[1:]) != want:
            what = ("(C, frames, H, W)" if self.spec.modality == "video"
                    else "(C, mel_bins, mel_frames)")
            raise InputSizeError(
                f"MViT {self.spec.modality} tower expects input (B, {', '.join(map(str, want))}) "
                f"{what} but got {tuple(x.shape)}; the model (and its weights: rel-pos tables are "
                f"sized for this grid) fixes the input size, so resample/crop the input or build "
                f"a new model with the size you need")


def _check_grid(spec: MViTSpec) -> None:
    """The reference asserts the patch conv grid equals input // stride; so do we, early."""
    strides = spec.patch_stride if not spec.patch_2d else (1, *spec.patch_stride)
    floor_grid = tuple(n // s for n, s in zip(spec.input_size, strides))
    if floor_grid != spec.token_grid:
        raise ConfigError(
            f"mvit: input size {spec.input_size} gives a {spec.token_grid} token grid from the "
            f"patch conv but {floor_grid} from input // stride {strides}; use sizes that are "
            f"multiples of the patch stride")
