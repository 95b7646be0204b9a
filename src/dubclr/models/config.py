"""Model configuration: which tower for each modality, its input size, and the heads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dubclr.errors import ConfigError

VideoArch = Literal["mvit", "x3d"]
AudioArch = Literal["mvit", "resnet_audio"]


@dataclass
class VideoTowerConfig:
    """A video backbone. Input (B, 3, frames, crop, crop) floats in [0, 1]."""

    arch: VideoArch = "mvit"
    preset: str = "S"  # mvit: S | B | tiny ; x3d: M | S | XS | tiny
    frames: int = 16
    crop: int = 224
    patch_overlap: bool = False  # mvit only
    out_dim: int | None = None  # x3d: clip-level output width (the controlled study used 1024)
    overrides: dict[str, Any] = field(default_factory=dict)  # MVIT-field overrides (mvit only)


@dataclass
class AudioTowerConfig:
    """An audio backbone. Input (B, channels, mel_bins, mel_frames) log-mel in dB."""

    arch: AudioArch = "mvit"
    preset: str = "S"  # mvit: S | B | tiny ; resnet_audio: 50 | 18 | tiny
    channels: int = 1  # 1 = mono (released models), 2 = (pseudo-)stereo (controlled study)
    mel_bins: int = 96
    mel_frames: int = 288
    patch_overlap: bool = False
    out_dim: int | None = None  # resnet_audio: clip-level output width
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class HeadConfig:
    """MLP projection head: Linear -> BatchNorm -> ReLU -> Linear, L2-normalised output."""

    hidden_dim: int = 2048
    out_dim: int = 512


@dataclass
class ModelConfig:
    video: VideoTowerConfig | None = field(default_factory=VideoTowerConfig)
    audio: AudioTowerConfig | None = field(default_factory=AudioTowerConfig)
    head: HeadConfig | None = field(default_factory=HeadConfig)

    def __post_init__(self) -> None:
        if self.video is None and self.audio is None:
            raise ConfigError("model: at least one of model.video and model.audio must be set")
