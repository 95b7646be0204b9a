"""Helpers for the model tests: the authors' parity fixtures and the analytic weight rule."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import torch

from dubclr.models.mvit import MViT, build_from_reference_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mvit_parity"


def load_json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def tiny_input_size(cfg: dict, modality: str) -> tuple[int, ...]:
    args = cfg["constructor_args"]
    if modality == "video":
        return (args["temporal_size"], *args["spatial_size"])
    return tuple(args["spatial_size"])


def build_tiny_reference(modality: str, attention: str = "sdpa") -> MViT:
    """The fixture's tiny tower, built from its JSON alone."""
    cfg = load_json(f"config_{modality}_tiny.json")
    return build_from_reference_config(cfg["MVIT"], modality=modality,
                                       input_size=tiny_input_size(cfg, modality),
                                       in_chans=cfg["constructor_args"]["in_chans"],
                                       attention=attention)


def analytic_tensor(key: str, shape: list[int], rule: str, modality: str) -> torch.Tensor:
    """The README's closed-form weight for one state_dict key (float64 math, then cast)."""
    if rule == "zero":
        return torch.zeros(shape, dtype=torch.int64)
    n = math.prod(shape)
    phase = (zlib.crc32(key.encode("ascii")) % 6283) / 1000
    u = torch.sin(0.731 * torch.arange(n, dtype=torch.float64) + phase).reshape(shape)
    if rule == "w":
        v = 0.02 * u
    elif rule == "lnw":
        v = 1 + 0.1 * u
    elif rule == "lnb":
        v = 0.05 * u
    elif rule == "rm":
        v = 0.45 + 0.05 * u if modality == "video" else -40 + 5 * u
    elif rule == "rv":
        v = 0.07 + 0.01 * u if modality == "video" else 400 + 50 * u
    else:
        raise AssertionError(f"unknown analytic rule {rule}")
    return v.to(torch.float32)


def analytic_input(shape: list[int], modality: str) -> torch.Tensor:
    i = torch.arange(math.prod(shape), dtype=torch.float64)
    if modality == "video":
        x = 0.5 + 0.45 * torch.sin(0.01 * i + 0.3)
    else:
        x = -40 + 20 * torch.sin(0.01 * i + 0.3)
    return x.to(torch.float32).reshape(shape)


def schema_input_size(schema: dict) -> tuple[int, ...]:
    shape = schema["input_shape"]
    return tuple(shape[2:]) if schema["mtype"] == "video" else tuple(shape[2:])


def build_on_meta(schema: dict, patch_overlap: bool = False) -> MViT:
    """A full-size tower with unallocated weights (shapes and keys only)."""
    mvit = dict(schema["mvit_config_after_get_mvit_config"])
    if patch_overlap:
        over = schema["if_patch_overlap_true"]
        mvit.update(PATCH_OVERLAP=True, PATCH_KERNEL=over["patch_kernel"],
                    PATCH_STRIDE=over["patch_stride"], PATCH_PADDING=over["patch_padding"])
    with torch.device("meta"):
        return build_from_reference_config(
            mvit, modality=schema["mtype"], input_size=schema_input_size(schema),
            in_chans=schema["input_shape"][1])

