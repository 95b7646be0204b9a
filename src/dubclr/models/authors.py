"""Our ModelConfig for towers described by the authors' configs.

A released tower is described either by the release ``config.yaml`` or by a resolved
per-tower JSON (``{"MVIT": {...}, "constructor_args": {"temporal_size", "spatial_size",
"in_chans"}}``, the layout of ``tests/fixtures/mvit_parity/config_*_tiny.json``). Both become
a :class:`VideoTowerConfig` / :class:`AudioTowerConfig` whose ``overrides`` hold exactly the
MVIT fields that differ from our preset of the same size, so ``model.json`` rebuilds it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dubclr.errors import CheckpointError, ConfigError
from dubclr.models.config import AudioTowerConfig, VideoTowerConfig
from dubclr.models.mvit import preset_mvit_config
from dubclr.models.mvit.reference import (
    read_authors_yaml,
    tower_from_authors_yaml,
    towers_in_authors_yaml,
)


def tower_config(mvit: dict[str, Any], modality: str, input_size: tuple[int, ...],
                 in_chans: int) -> VideoTowerConfig | AudioTowerConfig:
    """Express a resolved MVIT mapping as our preset + overrides."""
    size = mvit.get("SIZE", "S")
    overlap = bool(mvit.get("PATCH_OVERLAP", False))
    base = preset_mvit_config(modality, size, overlap)
    overrides = {k: v for k, v in mvit.items() if base.get(k) != v}
    if modality == "video":
        frames, height, width = input_size
        if height != width:
            raise ConfigError(f"video crop {height}x{width}: only square crops are supported")
        if in_chans != 3:
            raise ConfigError(f"video towers take 3 channels, the config says {in_chans}")
        return VideoTowerConfig(arch="mvit", preset=size, frames=frames, crop=height,
                                patch_overlap=overlap, overrides=overrides)
    mel_bins, mel_frames = input_size
    return AudioTowerConfig(arch="mvit", preset=size, channels=in_chans, mel_bins=mel_bins,
                            mel_frames=mel_frames, patch_overlap=overlap, overrides=overrides)


def read_tower_json(path: str | Path, modality: str) -> VideoTowerConfig | AudioTowerConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        mvit, args = data["MVIT"], data["constructor_args"]
        spatial = tuple(int(v) for v in args["spatial_size"])
        size = (int(args["temporal_size"]), *spatial) if modality == "video" else spatial
        return tower_config(mvit, modality, size, int(args["in_chans"]))
    except FileNotFoundError:
        raise ConfigError(f"{modality} config not found: {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a resolved tower config with 'MVIT' and "
                          f"'constructor_args' ({exc!r})") from None


def tower_configs(*, authors_config=None, video_config=None, audio_config=None,
                  available: set[str]):
    """(video, audio) tower configs for the towers present in the checkpoint."""
    if authors_config is None and video_config is None and audio_config is None:
        raise CheckpointError("an authors' checkpoint needs its config: --authors-config "
                              "CONFIG.yaml, or --video-config / --audio-config JSON")
    if authors_config is not None and (video_config or audio_config):
        raise ConfigError("give either --authors-config or --video-config/--audio-config")
    out: dict[str, Any] = {"video": None, "audio": None}
    if authors_config is not None:
        data = read_authors_yaml(authors_config)
        for modality in towers_in_authors_yaml(data):
            if modality in available:
                mvit, size = tower_from_authors_yaml(data, modality)
                out[modality] = tower_config(mvit, modality, size, 3 if modality == "video" else 1)
    else:
        for modality, cfg_path in (("video", video_config), ("audio", audio_config)):
            if cfg_path is None:
                continue
            if modality not in available:
                raise CheckpointError(f"a {modality} config was given but the checkpoint has no "
                                      f"backbone.net.{modality}.* keys")
            out[modality] = read_tower_json(cfg_path, modality)
    if out["video"] is None and out["audio"] is None:
        raise CheckpointError(f"no tower to build: the checkpoint has {sorted(available)}, the "
                              f"config describes none of them")
    return out["video"], out["audio"]
