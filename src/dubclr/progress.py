"""One place for progress bars, so every long command looks the same."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None,
             unit: str = "it", disable: bool | None = None, **kwargs) -> tqdm:
    """A tqdm bar on stderr; off when DUBCLR_NO_PROGRESS=1."""
    if disable is None:
        disable = os.environ.get("DUBCLR_NO_PROGRESS") == "1"
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable,
                file=sys.stderr, dynamic_ncols=True, **kwargs)
