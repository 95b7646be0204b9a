"""Learning rate: per-step linear warm-up, then half-cosine annealing."""

from __future__ import annotations

import math

import torch


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0) -> float:
    """The multiplier of the peak rate for optimizer step ``step`` (0-based).

    Warm-up rises linearly from ``1/warmup_steps`` to 1 over ``warmup_steps`` steps; the
    rest follows half a cosine from 1 down to ``min_ratio`` at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupCosine:
    """Sets every param group's ``lr`` for the coming step; its state is the step count."""

    def __init__(self, optimizer: torch.optim.Optimizer, peak_lr: float, total_steps: int,
                 warmup_steps: int, min_ratio: float = 0.0) -> None:
        self.optimizer = optimizer
        self.peak_lr = peak_lr
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.min_ratio = min_ratio
        self.step_count = 0
        self.apply()

    @property
    def lr(self) -> float:
        return self.peak_lr * warmup_cosine(self.step_count, self.total_steps,
                                            self.warmup_steps, self.min_ratio)

    def apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr

    def step(self) -> None:
        self.step_count += 1
        self.apply()

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        self.apply()
