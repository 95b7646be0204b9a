"""Guards of a long run: non-finite steps, and stop signals turned into a clean exit."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from dubclr.errors import DubclrError


class TrainingDivergedError(DubclrError):
    """The loss or gradients stayed non-finite for too many steps in a row."""


class NonFiniteGuard:
    """Counts skipped steps in a row; raises after ``limit`` of them. (The run's total of
    skipped steps is part of the run state.)"""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_a_row = 0

    def record(self, step: int, finite: bool, last_checkpoint: str | None) -> None:
        if finite:
            self.in_a_row = 0
            return
        self.in_a_row += 1
        if self.in_a_row >= self.limit:
            where = (f"The last good checkpoint is {last_checkpoint}; continue from it with "
                     "--resume auto" if last_checkpoint else
                     "No checkpoint was written yet; start the run again")
            raise TrainingDivergedError(
                f"the loss or the gradients were non-finite for {self.in_a_row} steps in a row "
                f"(steps {step - self.in_a_row + 1}..{step}); training stopped. {where} after "
                "lowering optim.lr, raising schedule.warmup_epochs or setting optim.grad_clip "
                "(or check the data for NaNs).")


class StopSignals:
    """While active, SIGTERM and SIGINT set ``requested`` instead of killing the process,
    so the trainer can write a checkpoint at the end of the current step. A second signal
    of the same kind falls through to the previous handler."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:  # asked twice: stop now
            previous = self._previous.get(signum)
            if callable(previous):
                previous(signum, frame)
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
