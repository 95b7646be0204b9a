"""Pretraining: the paper's objective (loss), the run state (state), the loop (loop/),
checkpoints, DDP set-up.

    from dubclr.config import load_config
    from dubclr.train import TrainConfig, Trainer
    Trainer(load_config(TrainConfig, "configs/toy/EN.yaml")).fit()

Names are imported on first use: ``import dubclr.train.config`` does not load the trainer.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"TrainConfig": "config", "Trainer": "loop", "TrainResult": "loop",
          "DubContrastiveLoss": "loss", "LossConfig": "loss", "RunState": "state"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'dubclr.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dubclr.train.{_WHERE[name]}"), name)
