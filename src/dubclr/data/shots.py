"""Shot boundaries: our own cut detector on downscaled grey frames, or a CSV of boundaries.

The detector decodes every frame with PyAV, lets swscale shrink it to a 64x36 grey image,
and scores each frame against the previous one: the mean of (a) the mean absolute pixel
difference and (b) the grey-histogram change (32 bins, half the L1 distance), both on a 0..1
scale. Pixel differences see content changes, the histogram is blind to motion. A cut is a
score that is both large (``threshold``) and much larger than the recent level (``ratio`` x
the mean of the previous ``window`` scores). Hard cuts only; dissolves are not cuts.
"""

from __future__ import annotations

import csv
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from dubclr.errors import CatalogError
from dubclr.media import CorruptMediaError, NoVideoStreamError

_SMALL = (64, 36)


@dataclass(frozen=True)
class DetectorConfig:
    threshold: float = 0.10
    ratio: float = 4.0
    window: int = 8
    min_gap: float = 0.3  # seconds; a cut closer than this to the previous one is ignored


def detect_cuts(path: str | Path, cfg: DetectorConfig = DetectorConfig()) -> tuple[list[float], float]:
    """Cut times in seconds (the first frame of each new shot) and the video's end time."""
    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise CorruptMediaError(f"{path}: cannot be opened as media ({exc})") from None
    with container:
        if not container.streams.video:
            raise NoVideoStreamError(f"{path}: has no video stream, so it has no shots")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = stream.time_base
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        cuts: list[float] = []
        recent: deque[float] = deque(maxlen=cfg.window)
        prev = prev_hist = None
        last_time = 0.0
        try:
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is None:
                    continue
                t = float(pts * time_base)
                small = frame.reformat(width=_SMALL[0], height=_SMALL[1], format="gray")
                img = small.to_ndarray()[:, : _SMALL[0]].astype(np.int16)
                hist = np.bincount((img >> 3).ravel(), minlength=32)
                if prev is not None:
                    pixels = float(np.abs(img - prev).mean()) / 255.0
                    histogram = float(np.abs(hist - prev_hist).sum()) / (2 * img.size)
                    diff = 0.5 * (pixels + histogram)
                    level = sum(recent) / len(recent) if recent else 0.0
                    gap_ok = not cuts or t - cuts[-1] >= cfg.min_gap
                    if diff >= cfg.threshold and diff >= cfg.ratio * level and gap_ok and t > 0:
                        cuts.append(t)
                        recent.clear()
                    else:
                        recent.append(diff)
                prev, prev_hist = img, hist
                last_time = max(last_time, t)
        except av.error.FFmpegError as exc:
            raise CorruptMediaError(f"{path}: decoding failed at {last_time:.2f}s ({exc}); "
                                    "the file is damaged: re-encode or re-download it") from None
    if prev is None:
        raise CorruptMediaError(f"{path}: no video frame could be decoded")
    return cuts, last_time + 1.0 / rate


def shots_from_cuts(cuts: list[float], end: float, start: float = 0.0) -> list[tuple[float, float]]:
    """Consecutive (start, end) intervals between cuts."""
    edges = [start] + [c for c in sorted(cuts) if start < c < end] + [end]
    return [(round(a, 6), round(b, 6)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def keep_shot(start: float, end: float, min_len: float, max_len: float) -> bool:
    return min_len - 1e-6 <= end - start <= max_len + 1e-6


def read_shot_csv(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """Shots per title from a CSV with columns ``file,start,end`` (seconds).

    ``file`` is the title's path relative to the indexed folder, or its file name.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"shot CSV not found: {path}")
    out: dict[str, list[tuple[float, float]]] = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "start", "end"} - set(reader.fieldnames or [])
        if missing:
            raise CatalogError(f"{path}: missing column(s) {', '.join(sorted(missing))}; the "
                               "header must be file,start,end")
        for line, row in enumerate(reader, start=2):
            try:
                start, end = float(row["start"]), float(row["end"])
            except (TypeError, ValueError):
                raise CatalogError(f"{path}:{line}: start/end must be numbers in seconds, got "
                                   f"{row['start']!r}, {row['end']!r}") from None
            if not 0 <= start < end:
                raise CatalogError(f"{path}:{line}: need 0 <= start < end, got {start}, {end}")
            out.setdefault(row["file"].strip(), []).append((start, end))
    for shots in out.values():
        shots.sort()
    return out


__all__ = ["DetectorConfig", "detect_cuts", "keep_shot", "read_shot_csv", "shots_from_cuts"]
