"""Named tower presets with their input sizes, parameter counts and FLOPs per clip."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dubclr.models.av import build_audio_tower, build_video_tower
from dubclr.models.config import AudioTowerConfig, VideoTowerConfig


@dataclass(frozen=True)
class Preset:
    name: str
    tower: VideoTowerConfig | AudioTowerConfig
    note: str = ""

    @property
    def modality(self) -> str:
        return "video" if isinstance(self.tower, VideoTowerConfig) else "audio"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-clip input (without batch)."""
        t = self.tower
        if isinstance(t, VideoTowerConfig):
            return (3, t.frames, t.crop, t.crop)
        return (t.channels, t.mel_bins, t.mel_frames)

    def build(self) -> nn.Module:
        if isinstance(self.tower, VideoTowerConfig):
            return build_video_tower(self.tower)
        return build_audio_tower(self.tower)


PRESETS: tuple[Preset, ...] = (
    Preset("mvit-S-video", VideoTowerConfig(arch="mvit", preset="S"), "release main study"),
    Preset("mvit-S-video-overlap", VideoTowerConfig(arch="mvit", preset="S", patch_overlap=True),
           "PATCH_OVERLAP=True"),
    Preset("mvit-B-video", VideoTowerConfig(arch="mvit", preset="B"), "release group C"),
    Preset("mvit-S-audio", AudioTowerConfig(arch="mvit", preset="S"), "release main study"),
    Preset("mvit-B-audio", AudioTowerConfig(arch="mvit", preset="B"), "release group C"),
    Preset("x3d-M", VideoTowerConfig(arch="x3d", preset="M", out_dim=1024), "controlled study"),
    Preset("resnet50-audio", AudioTowerConfig(arch="resnet_audio", preset="50", channels=2,
                                              out_dim=1024), "controlled study, stereo"),
    Preset("mvit-tiny-video", VideoTowerConfig(arch="mvit", preset="tiny", frames=8, crop=64),
           "tests / toy runs"),
    Preset("mvit-tiny-audio", AudioTowerConfig(arch="mvit", preset="tiny"), "tests / toy runs"),
    Preset("x3d-tiny", VideoTowerConfig(arch="x3d", preset="tiny", frames=8, crop=64),
           "tests / toy runs"),
    Preset("resnet-tiny-audio", AudioTowerConfig(arch="resnet_audio", preset="tiny"),
           "tests / toy runs"),
)


def get_preset(name: str) -> Preset:
    for p in PRESETS:
        if p.name == name:
            return p
    raise KeyError(f"unknown preset {name!r}; known: {', '.join(p.name for p in PRESETS)}")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def clip_gflops(tower: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Forward GFLOPs for one clip (torch FlopCounter: 2 x multiply-adds of matmuls/convs).

    Runs on the meta device when the tower lives there, so nothing is computed. MViT is
    counted through its explicit attention path (the same matmuls SDPA fuses).
    """
    device = next(tower.parameters()).device
    explicit = hasattr(tower, "set_attention")
    if explicit:
        previous = tower.attention
        tower.set_attention("explicit")
    was_training = tower.training
    tower.eval()
    try:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            tower(torch.zeros((1, *input_shape), device=device))
        return counter.get_total_flops() / 1e9
    finally:
        tower.train(was_training)
        if explicit:
            tower.set_attention(previous)


def preset_row(preset: Preset) -> dict:
    with torch.device("meta"):
        tower = preset.build()
    return {"name": preset.name, "modality": preset.modality, "input": list(preset.input_shape),
            "out_dim": tower.out_dim, "params": count_parameters(tower),
            "gflops": clip_gflops(tower, preset.input_shape), "note": preset.note}
