"""X3D video backbone (Feichtenhofer 2020), the controlled study's video tower.

X3D-XS/S/M share one network (width factor 2.0, bottleneck 2.25, depth 2.2: stages of
3/5/11/7 blocks with 24/48/96/192 channels) and differ only in input frames and crop
(M: 16 x 224 x 224), which come from ``VideoTowerConfig``. The clip-level output is the
pooled ``conv5`` features through a linear layer of ``out_dim`` (2048 in the paper's
classifier head; the controlled study used 1024) and ReLU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dubclr.errors import ConfigError
from dubclr.models.config import VideoTowerConfig


@dataclass(frozen=True)
class X3DSpec:
    stem_dim: int
    stage_dims: tuple[int, ...]
    stage_depths: tuple[int, ...]
    bottleneck: float
    conv5_dim: int
    out_dim: int
    se_ratio: float = 0.0625


_PRESETS = {
    "M": dict(stem_dim=24, stage_dims=(24, 48, 96, 192), stage_depths=(3, 5, 11, 7),
              bottleneck=2.25, conv5_dim=432, out_dim=2048),
    "tiny": dict(stem_dim=8, stage_dims=(8, 16, 24, 32), stage_depths=(1, 1, 1, 1),
                 bottleneck=2.0, conv5_dim=64, out_dim=64),
}
_ALIASES = {"XS": "M", "S": "M"}  # same network, smaller input


def x3d_spec(preset: str, out_dim: int | None = None) -> X3DSpec:
    name = _ALIASES.get(preset, preset)
    if name not in _PRESETS:
        raise ConfigError(f"model.video.preset={preset!r}: X3D presets are M, S, XS and tiny")
    fields = dict(_PRESETS[name])
    if out_dim is not None:
        fields["out_dim"] = int(out_dim)
    return X3DSpec(**fields)


class SqueezeExcite(nn.Module):
    def __init__(self, dim: int, ratio: float) -> None:
        super().__init__()
        hidden = max(8, int(round(dim * ratio / 8)) * 8)  # rounded to a multiple of 8
        self.fc1 = nn.Conv3d(dim, hidden, 1)
        self.fc2 = nn.Conv3d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool3d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class X3DBlock(nn.Module):
    """1x1x1 -> depthwise 3x3x3 (spatial stride) -> [SE] -> swish -> 1x1x1, residual."""

    def __init__(self, dim_in: int, dim_out: int, inner: int, stride: int, se_ratio: float) -> None:
        super().__init__()
        self.conv_a = nn.Conv3d(dim_in, inner, 1, bias=False)
        self.bn_a = nn.BatchNorm3d(inner)
        self.conv_b = nn.Conv3d(inner, inner, 3, stride=(1, stride, stride), padding=1,
                                groups=inner, bias=False)
        self.bn_b = nn.BatchNorm3d(inner)
        self.se = SqueezeExcite(inner, se_ratio) if se_ratio > 0 else None
        self.conv_c = nn.Conv3d(inner, dim_out, 1, bias=False)
        self.bn_c = nn.BatchNorm3d(dim_out)
        nn.init.zeros_(self.bn_c.weight)  # each block starts as identity
        self.shortcut = None
        if dim_in != dim_out or stride != 1:
            self.shortcut = nn.Sequential(
                nn.Conv3d(dim_in, dim_out, 1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn_a(self.conv_a(x)))
        y = self.bn_b(self.conv_b(y))
        if self.se is not None:
            y = self.se(y)
        y = self.bn_c(self.conv_c(F.silu(y)))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(skip + y)


class X3D(nn.Module):
    """(B, 3, T, H, W) in [0, 1] -> (B, out_dim). Any T/H/W (fully convolutional)."""

    def __init__(self, spec: X3DSpec) -> None:
        super().__init__()
        self.spec = spec
        self.out_dim = spec.out_dim
        # Inputs are [0, 1] pixels with no mean/std (see the data contract): normalise here.
        self.input_norm = nn.BatchNorm3d(3, affine=False)
        self.stem = nn.Sequential(
            nn.Conv3d(3, spec.stem_dim, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False),
            nn.Conv3d(spec.stem_dim, spec.stem_dim, (5, 1, 1), padding=(2, 0, 0),
                      groups=spec.stem_dim, bias=False),
            nn.BatchNorm3d(spec.stem_dim), nn.ReLU(inplace=True))
        stages = []
        dim = spec.stem_dim
        for dim_out, depth in zip(spec.stage_dims, spec.stage_depths):
            inner = int(round(dim_out * spec.bottleneck))
            blocks = [X3DBlock(dim if i == 0 else dim_out, dim_out, inner, 2 if i == 0 else 1,
                               spec.se_ratio if i % 2 == 0 else 0.0) for i in range(depth)]
            stages.append(nn.Sequential(*blocks))
            dim = dim_out
        self.stages = nn.Sequential(*stages)
        self.conv5 = nn.Sequential(nn.Conv3d(dim, spec.conv5_dim, 1, bias=False),
                                   nn.BatchNorm3d(spec.conv5_dim), nn.ReLU(inplace=True))
        self.fc = nn.Linear(spec.conv5_dim, spec.out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv5(self.stages(self.stem(self.input_norm(x))))
        return F.relu(self.fc(x.mean(dim=(2, 3, 4))))


def build_x3d(cfg: VideoTowerConfig) -> X3D:
    return X3D(x3d_spec(cfg.preset, cfg.out_dim))
