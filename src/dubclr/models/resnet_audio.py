"""Acoustic ResNet on log-mel spectrograms, the controlled study's audio tower.

A 2-D ResNet over (channels, mel bins, frames): 1 channel (mono) or 2 (stereo /
pseudo-stereo, as in the controlled study). Global average pooling gives 2048 features
(ResNet-50), mapped to ``out_dim`` by a linear layer when one is asked for (the controlled
study used 1024).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dubclr.errors import ConfigError
from dubclr.models.config import AudioTowerConfig


@dataclass(frozen=True)
class ResNetSpec:
    block: str  # "bottleneck" | "basic"
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    stem_dim: int


_PRESETS = {
    "50": ResNetSpec("bottleneck", (3, 4, 6, 3), (64, 128, 256, 512), 64),
    "18": ResNetSpec("basic", (2, 2, 2, 2), (64, 128, 256, 512), 64),
    "tiny": ResNetSpec("basic", (1, 1, 1, 1), (8, 16, 32, 64), 8),
}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, dim_in: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim_in, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        nn.init.zeros_(self.bn2.weight)
        self.downsample = _downsample(dim_in, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, dim_in: int, width: int, stride: int) -> None:
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(dim_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        nn.init.zeros_(self.bn3.weight)
        self.downsample = _downsample(dim_in, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


def _downsample(dim_in: int, dim_out: int, stride: int) -> nn.Module | None:
    if dim_in == dim_out and stride == 1:
        return None
    return nn.Sequential(nn.Conv2d(dim_in, dim_out, 1, stride, bias=False), nn.BatchNorm2d(dim_out))


class AudioResNet(nn.Module):
    """(B, C, mel_bins, frames) log-mel dB -> (B, out_dim)."""

    def __init__(self, spec: ResNetSpec, in_chans: int = 1, out_dim: int | None = None) -> None:
        super().__init__()
        self.spec = spec
        # dB inputs sit around -40 with a spread of tens: a stem BatchNorm standardises them.
        self.input_norm = nn.BatchNorm2d(in_chans, affine=False)
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, spec.stem_dim, 7, 2, 3, bias=False), nn.BatchNorm2d(spec.stem_dim),
            nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        block = Bottleneck if spec.block == "bottleneck" else BasicBlock
        layers = []
        dim = spec.stem_dim
        for i, (depth, width) in enumerate(zip(spec.depths, spec.widths)):
            blocks = []
            for j in range(depth):
                blocks.append(block(dim, width, 2 if (j == 0 and i > 0) else 1))
                dim = width * block.expansion
            layers.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*layers)
        self.feature_dim = dim
        self.fc = nn.Linear(dim, out_dim) if out_dim is not None else None
        self.out_dim = out_dim if out_dim is not None else dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(self.input_norm(x)))
        x = x.mean(dim=(2, 3))
        return self.fc(x) if self.fc is not None else x


def build_resnet_audio(cfg: AudioTowerConfig) -> AudioResNet:
    if cfg.preset not in _PRESETS:
        raise ConfigError(
            f"model.audio.preset={cfg.preset!r}: resnet_audio presets are {sorted(_PRESETS)}")
    if cfg.channels not in (1, 2):
        raise ConfigError(f"model.audio.channels={cfg.channels}: must be 1 (mono) or 2 (stereo)")
    return AudioResNet(_PRESETS[cfg.preset], in_chans=cfg.channels, out_dim=cfg.out_dim)
