"""The training loop: the run around the steps (trainer.py) and one optimizer step (step.py)."""

from dubclr.train.loop.trainer import Trainer, TrainResult

__all__ = ["Trainer", "TrainResult"]
