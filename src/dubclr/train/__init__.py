"""Pretraining: the paper's objective (loss), the loop (loop/), checkpoints, DDP set-up.

    from dubclr.config import load_config
    from dubclr.train import TrainConfig, Trainer
    Trainer(load_config(TrainConfig, "configs/toy/EN.yaml")).fit()
"""

from dubclr.train.config import TrainConfig
from dubclr.train.loop import Trainer, TrainResult
from dubclr.train.loss import DubContrastiveLoss, LossConfig

__all__ = ["DubContrastiveLoss", "LossConfig", "TrainConfig", "TrainResult", "Trainer"]
