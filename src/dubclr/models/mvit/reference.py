"""The authors' MViT configuration rules: defaults, per-size/per-modality resolution, YAML.

The release builds each tower from a YACS config: the ``MVIT`` defaults, then the run's
``config.yaml``, then ``get_mvit_config(cfg, mtype)`` which overwrites most fields per
modality and size. This module reproduces that resolution with plain dicts so that a
released model can be rebuilt from its YAML alone (see the fixture README for the rules).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from dubclr.config import read_yaml_mapping
from dubclr.errors import ConfigError

# ``_C.MVIT`` defaults of the release (values a YAML may leave out).
MVIT_DEFAULTS: dict[str, Any] = {
    "MODE": "conv", "POOL_FIRST": False, "CLS_EMBED_ON": True,
    "PATCH_KERNEL": [3, 7, 7], "PATCH_STRIDE": [2, 4, 4], "PATCH_PADDING": [2, 4, 4],
    "PATCH_2D": False, "EMBED_DIM": 96, "NUM_HEADS": 1, "MLP_RATIO": 4.0, "QKV_BIAS": True,
    "DROPPATH_RATE": 0.1, "LAYER_SCALE_INIT_VALUE": 0.0, "DEPTH": 16, "NORM": "layernorm",
    "DIM_MUL": [], "HEAD_MUL": [], "POOL_KV_STRIDE": [], "POOL_KV_STRIDE_ADAPTIVE": None,
    "POOL_Q_STRIDE": [], "POOL_KVQ_KERNEL": None, "ZERO_DECAY_POS_CLS": True,
    "NORM_STEM": False, "SEP_POS_EMBED": False, "DROPOUT_RATE": 0.0, "USE_ABS_POS": True,
    "REL_POS_SPATIAL": False, "REL_POS_TEMPORAL": False, "REL_POS_ZERO_INIT": False,
    "RESIDUAL_POOLING": False, "DIM_MUL_IN_ATT": False, "SEPARATE_QKV": False,
    "USE_MEAN_POOLING": False, "USE_FIXED_SINCOS_POS": False, "PATCH_OVERLAP": False,
    "SIZE": "S",
}
DEFAULT_VIDEO_SIZE = (16, 224, 224)  # VIDEO.N_FRAMES, VIDEO.CROP_SIZE
DEFAULT_AUDIO_SIZE = (96, 288)  # AUDIO.CROP_SIZE (mel bins, frames)

_S_DIM_MUL = [[1, 2.0], [3, 2.0], [14, 2.0]]
_B_DIM_MUL = [[2, 2.0], [5, 2.0], [21, 2.0]]


def _q_strides(depth: int, strided: tuple[int, ...]) -> list[list[int]]:
    """One entry per block: (1, 2, 2) at the strided blocks, (1, 1, 1) elsewhere."""
    return [[i, 1, 2, 2] if i in strided else [i, 1, 1, 1] for i in range(depth)]


_SIZES: dict[str, dict[str, Any]] = {
    "S": {"DEPTH": 16, "DIM_MUL": _S_DIM_MUL, "HEAD_MUL": _S_DIM_MUL,
          "POOL_Q_STRIDE": _q_strides(16, (1, 3, 14))},
    "B": {"DEPTH": 24, "DIM_MUL": _B_DIM_MUL, "HEAD_MUL": _B_DIM_MUL,
          "POOL_Q_STRIDE": _q_strides(24, (2, 5, 21))},
}
_AUDIO_S_KV = [[0, 1, 4, 4], [1, 1, 2, 2], [2, 1, 2, 2]] + [[i, 1, 1, 1] for i in range(3, 16)]
_DROP_PATH = {("video", "S"): 0.2, ("video", "B"): 0.3, ("audio", "S"): 0.1, ("audio", "B"): 0.3}


def resolve_mvit(mvit: dict[str, Any] | None, modality: str) -> dict[str, Any]:
    """Apply ``get_mvit_config``: defaults <- ``mvit`` (e.g. a YAML's MVIT) <- per-modality rules."""
    cfg = copy.deepcopy(MVIT_DEFAULTS)
    for key, value in (mvit or {}).items():
        if key not in MVIT_DEFAULTS:
            raise ConfigError(f"MVIT.{key}: unknown MVIT field (known: {sorted(MVIT_DEFAULTS)})")
        cfg[key] = copy.deepcopy(value)
    size = cfg["SIZE"]
    if size not in _SIZES:
        raise ConfigError(f"MVIT.SIZE={size!r}: the release defines 'S' and 'B' only")
    overlap = bool(cfg["PATCH_OVERLAP"])
    cfg.update(copy.deepcopy(_SIZES[size]))
    cfg.update(EMBED_DIM=96, NUM_HEADS=1, MLP_RATIO=4.0, QKV_BIAS=True, NORM="layernorm",
               MODE="conv", ZERO_DECAY_POS_CLS=False, USE_ABS_POS=False, REL_POS_SPATIAL=True,
               DIM_MUL_IN_ATT=True, RESIDUAL_POOLING=True,
               DROPPATH_RATE=_DROP_PATH[(modality, size)])
    if modality == "video":
        cfg.update(
            PATCH_KERNEL=[3, 7, 7] if overlap else [3, 9, 9],
            PATCH_STRIDE=[2, 4, 4] if overlap else [2, 8, 8],
            PATCH_PADDING=[1, 3, 3] if overlap else [1, 4, 4],
            CLS_EMBED_ON=True, REL_POS_TEMPORAL=True, POOL_KVQ_KERNEL=[3, 3, 3],
            POOL_KV_STRIDE_ADAPTIVE=[1, 8, 8], DROPOUT_RATE=0.0)
    elif modality == "audio":
        cfg.update(
            PATCH_2D=True,
            PATCH_KERNEL=[7, 7] if overlap else [7, 9],
            PATCH_STRIDE=[4, 4] if overlap else [4, 8],
            PATCH_PADDING=[3, 3] if overlap else [3, 4],
            CLS_EMBED_ON=False, POOL_KVQ_KERNEL=[1, 3, 3])
        if size == "S":
            cfg["POOL_KV_STRIDE"] = copy.deepcopy(_AUDIO_S_KV)
        else:
            cfg["POOL_KV_STRIDE_ADAPTIVE"] = [1, 4, 4]
    else:
        raise ConfigError(f"modality must be 'video' or 'audio', got {modality!r}")
    return cfg


def read_authors_yaml(path: str | Path) -> dict[str, Any]:
    """Read a release ``config.yaml`` (YACS syntax is plain YAML)."""
    return read_yaml_mapping(path, "authors' config")


def tower_from_authors_yaml(data: dict[str, Any], modality: str) -> tuple[dict[str, Any], tuple[int, ...]]:
    """(resolved MVIT, input_size) of one tower from a release config mapping."""
    model = data.get("MODEL") or {}
    arch = model.get(modality.upper(), "MViT")
    if arch != "MViT":
        raise ConfigError(f"MODEL.{modality.upper()}={arch!r}: only MViT towers are supported")
    mvit = resolve_mvit(data.get("MVIT"), modality)
    if modality == "video":
        video = data.get("VIDEO") or {}
        frames = int(video.get("N_FRAMES", DEFAULT_VIDEO_SIZE[0]))
        crop = [int(v) for v in video.get("CROP_SIZE", DEFAULT_VIDEO_SIZE[1:])]
        return mvit, (frames, crop[0], crop[1])
    audio = data.get("AUDIO") or {}
    crop = [int(v) for v in audio.get("CROP_SIZE", DEFAULT_AUDIO_SIZE)]
    return mvit, (crop[0], crop[1])


def towers_in_authors_yaml(data: dict[str, Any]) -> list[str]:
    """Which towers the release config builds (``DATA.USE_VIDEO`` / ``DATA.USE_AUDIO``)."""
    d = data.get("DATA") or {}
    return [m for m, key in (("video", "USE_VIDEO"), ("audio", "USE_AUDIO")) if d.get(key, True)]
