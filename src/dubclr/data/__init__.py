"""The data path: catalog, shots, selection, same-title sampler, quadruplet loader, transforms.

Names are imported on first use, so ``import dubclr.data.transforms`` (the evaluation and
HEAR front-ends) does not load the catalog, the sampler or the loader.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Catalog": "catalog", "ShotRecord": "catalog",
    "AudioConfig": "config", "DataConfig": "config", "SamplerConfig": "config",
    "SelectionConfig": "config", "VideoConfig": "config",
    "TrainLoader": "loader", "build_train_loader": "loader", "load_selection": "loader",
    "DubPolicy": "policies", "parse_dub_policy": "policies",
    "BatchItem": "sampler", "SameTitleBatchSampler": "sampler",
    "AudioFrontend": "transforms", "VideoTransform": "transforms", "build_transforms": "transforms",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'dubclr.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dubclr.data.{_WHERE[name]}"), name)
