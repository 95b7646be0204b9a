"""Output that may go away: `dubclr ... | head`, and Ctrl-C on `dubclr train ... | tee log`.

A terminal's Ctrl-C interrupts the whole pipeline, so `tee` ends while the run is still
finishing its step; the run's next write to the pipe then fails (EPIPE, which Python raises
as BrokenPipeError). That write must not cost the checkpoint the run is about to take:
:func:`writes_survive_a_closed_pipe` makes stdout and stderr drop output once their reader
has gone, and the work continues. For other commands the reader leaving means nobody wants
the rest: :func:`silence_stdout` lets them end quietly.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TextIO


def silence_stdout() -> None:
    """Point stdout at /dev/null, so nothing more (not even the interpreter's final flush)
    fails on a pipe whose reader has gone."""
    _to_devnull(sys.stdout)


def _to_devnull(stream: TextIO) -> None:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class _SurvivesClosedPipe:
    """A text stream whose writes go nowhere once its reader has closed the pipe."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            _to_devnull(self._stream)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            _to_devnull(self._stream)
            self._stream.flush()  # what was buffered now goes to /dev/null

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def writes_survive_a_closed_pipe() -> Iterator[None]:
    """While active, a write to stdout or stderr whose reader has gone is dropped instead of
    raising: the work goes on (and still checkpoints)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _SurvivesClosedPipe(saved[0]), _SurvivesClosedPipe(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
