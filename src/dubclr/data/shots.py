"""Shot boundaries: our own cut detector on downscaled grey frames, or a CSV of boundaries.

The detector rides on :func:`dubclr.media.extent.scan_media`'s one pass over the file, which
also measures what every stream really holds. Each decoded frame is shrunk by swscale to a
64x36 grey image and scored against the previous one: the mean of (a) the mean absolute pixel
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
from dubclr.media.extent import MediaExtent, scan_media

_SMALL = (64, 36)


@dataclass(frozen=True)
class DetectorConfig:
    threshold: float = 0.10
    ratio: float = 4.0
    window: int = 8
    min_gap: float = 0.3  # seconds; a cut closer than this to the previous one is ignored


class CutDetector:
    """Feed it decoded frames in order (``feed(frame, seconds)``); ``cuts`` holds the cut times."""

    def __init__(self, cfg: DetectorConfig = DetectorConfig()) -> None:
        self.cfg = cfg
        self.cuts: list[float] = []
        self._recent: deque[float] = deque(maxlen=cfg.window)
        self._prev = self._prev_hist = None

    def feed(self, frame: av.VideoFrame, t: float) -> None:
        cfg = self.cfg
        small = frame.reformat(width=_SMALL[0], height=_SMALL[1], format="gray")
        img = small.to_ndarray()[:, : _SMALL[0]].astype(np.int16)
        hist = np.bincount((img >> 3).ravel(), minlength=32)
        if self._prev is not None:
            pixels = float(np.abs(img - self._prev).mean()) / 255.0
            histogram = float(np.abs(hist - self._prev_hist).sum()) / (2 * img.size)
            diff = 0.5 * (pixels + histogram)
            recent = self._recent
            level = sum(recent) / len(recent) if recent else 0.0
            gap_ok = not self.cuts or t - self.cuts[-1] >= cfg.min_gap
            if diff >= cfg.threshold and diff >= cfg.ratio * level and gap_ok and t > 0:
                self.cuts.append(t)
                recent.clear()
            else:
                recent.append(diff)
        self._prev, self._prev_hist = img, hist


def scan_title(path: str | Path, cfg: DetectorConfig | None = DetectorConfig()
               ) -> tuple[list[float], MediaExtent]:
    """One pass over a title: its cut times (none when ``cfg`` is None: no video decoding)
    and what it really holds (decoded picture length, every stream's packet extent)."""
    detector = CutDetector(cfg) if cfg is not None else None
    extent = scan_media(path, on_frame=detector.feed if detector else None)
    return (detector.cuts if detector else []), extent


def detect_cuts(path: str | Path, cfg: DetectorConfig = DetectorConfig()) -> tuple[list[float], float]:
    """Cut times in seconds (the first frame of each new shot) and the video's end time."""
    path = Path(path)
    cuts, extent = scan_title(path, cfg)
    if extent.video_end is None:
        raise NoVideoStreamError(f"{path}: has no video stream, so it has no shots")
    if extent.video_frames == 0:
        raise CorruptMediaError(f"{path}: no video frame could be decoded")
    return cuts, extent.video_end


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


__all__ = ["CutDetector", "DetectorConfig", "detect_cuts", "keep_shot", "read_shot_csv", "scan_title",
           "shots_from_cuts"]
