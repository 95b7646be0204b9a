"""The training loop: one optimizer step (step.py) and the run around it (trainer.py)."""

from dubclr.train.loop.trainer import Trainer, TrainResult

__all__ = ["Trainer", "TrainResult"]
