"""MViTv2 video and audio towers that match the authors' release numerically.

    build_video_mvit(VideoTowerConfig(preset="S"))          # 16x224x224 clip -> 768
    build_audio_mvit(AudioTowerConfig(preset="S"))          # 1x96x288 log-mel -> 768
    build_from_reference_config(mvit, modality="video", input_size=(16, 224, 224), in_chans=3)
    build_from_authors_yaml("config.yaml", "audio")
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from dubclr.errors import ConfigError
from dubclr.models.config import AudioTowerConfig, VideoTowerConfig
from dubclr.models.mvit.model import MViT
from dubclr.models.mvit.reference import (
    MVIT_DEFAULTS,
    read_authors_yaml,
    resolve_mvit,
    tower_from_authors_yaml,
)
from dubclr.models.mvit.spec import BlockSpec, MViTSpec, resolve_spec

__all__ = [
    "BlockSpec", "MViT", "MViTSpec", "PRESETS", "build_audio_mvit", "build_from_authors_yaml",
    "build_from_reference_config", "build_video_mvit", "preset_mvit_config", "resolve_mvit",
    "resolve_spec",
]

PRESETS = ("S", "B", "tiny")

# The tiny preset: the release's structure (q stride at blocks 1 and 3, width doubling,
# interpolated rel-pos tables), 4 blocks of width 16 -> 64; fast on CPU for tests and toys.
_TINY = {
    "DEPTH": 4, "EMBED_DIM": 16, "DIM_MUL": [[1, 2.0], [3, 2.0]], "HEAD_MUL": [[1, 2.0], [3, 2.0]],
    "POOL_Q_STRIDE": [[0, 1, 1, 1], [1, 1, 2, 2], [2, 1, 1, 1], [3, 1, 2, 2]],
}
_TINY_VIDEO = {"POOL_KV_STRIDE_ADAPTIVE": [1, 4, 4]}
_TINY_AUDIO = {"POOL_KV_STRIDE": [[0, 1, 4, 4], [1, 1, 2, 2], [2, 1, 2, 2], [3, 1, 1, 1]]}


def preset_mvit_config(modality: str, preset: str, patch_overlap: bool = False,
                       overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved MVIT mapping of a preset, with MVIT-field ``overrides`` applied last."""
    if preset not in PRESETS:
        raise ConfigError(f"mvit preset must be one of {PRESETS}, got {preset!r}")
    size = "S" if preset == "tiny" else preset
    mvit = resolve_mvit({"SIZE": size, "PATCH_OVERLAP": patch_overlap}, modality)
    if preset == "tiny":
        mvit.update(copy.deepcopy(_TINY))
        mvit.update(copy.deepcopy(_TINY_VIDEO if modality == "video" else _TINY_AUDIO))
    for key, value in (overrides or {}).items():
        if key not in MVIT_DEFAULTS:
            raise ConfigError(f"overrides.{key}: unknown MVIT field (known: {sorted(MVIT_DEFAULTS)})")
        mvit[key] = copy.deepcopy(value)
    return mvit


def build_from_reference_config(mvit: dict[str, Any], *, modality: str,
                                input_size: tuple[int, ...], in_chans: int,
                                attention: str = "sdpa") -> MViT:
    """A tower from a resolved reference MVIT mapping (as in the fixture's config_*_tiny.json).

    ``input_size`` is (T, H, W) for video, (H, W) = (mel bins, frames) for audio.
    """
    spec = resolve_spec(mvit, modality=modality, input_size=tuple(input_size), in_chans=in_chans)
    return MViT(spec, attention=attention)


def build_from_authors_yaml(path: str | Path, modality: str, attention: str = "sdpa") -> MViT:
    """A tower exactly as the release builds it from its ``config.yaml``."""
    mvit, size = tower_from_authors_yaml(read_authors_yaml(path), modality)
    return build_from_reference_config(mvit, modality=modality, input_size=size,
                                       in_chans=3 if modality == "video" else 1,
                                       attention=attention)


def build_video_mvit(cfg: VideoTowerConfig) -> MViT:
    mvit = preset_mvit_config("video", cfg.preset, cfg.patch_overlap, cfg.overrides)
    return build_from_reference_config(mvit, modality="video",
                                       input_size=(cfg.frames, cfg.crop, cfg.crop), in_chans=3)


def build_audio_mvit(cfg: AudioTowerConfig) -> MViT:
    mvit = preset_mvit_config("audio", cfg.preset, cfg.patch_overlap, cfg.overrides)
    return build_from_reference_config(mvit, modality="audio",
                                       input_size=(cfg.mel_bins, cfg.mel_frames),
                                       in_chans=cfg.channels)
