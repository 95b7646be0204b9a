"""One sequential decode of a title's picture, cut into its kept shots on the 25 fps grid.

The paper's 25 fps rule is applied once, to the whole title and by time: grid frame ``j``
shows title frame ``k_j = int(j * fps / 25)``, the frame on screen at grid time ``t_0 + j / 25``
(``t_0``: the first frame's time). That is `dubclr.media.resample_indices`' rule (keep
``linspace(0, n - 1, ceil(n / fps * 25))``, floored) for a title long enough that the ceil no
longer matters; applied to each shot or window instead, its ceil squeezes the frames by up to
one source frame towards the end.

A shot ``[start, end)`` holds the grid frames whose source frame's timestamp falls in it (the
rule `dubclr.media.read_video` applies to source frames). They are scaled to the shard size as
they are decoded; frames outside kept shots are decoded but never scaled.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av

from dubclr.media.container import open_media
from dubclr.media.errors import CorruptMediaError, NoVideoStreamError
from dubclr.media.probe import probe
from dubclr.shards.video import SHARD_FPS, shard_size

_EPS = 1e-6  # seconds; as in dubclr.media.video


@dataclass
class ShotFrames:
    """One kept shot's frames on the 25 fps grid, at the shard size."""

    index: int  # the catalog's shot index
    start: float
    end: float
    video_start: float  # title time of the shot's first grid frame: t_0 + j / 25
    frames: list[av.VideoFrame]
    source_indices: list[int]  # k_j: the title frame each shard frame shows


@dataclass(frozen=True)
class PictureInfo:
    fps: float
    width: int  # source size
    height: int
    shard_width: int
    shard_height: int
    colour: dict[str, int]  # colorspace, primaries, transfer of the source (tags to keep)


def scan_shots(path: str | Path, shots: Sequence[tuple[int, float, float]], short_side: int
               ) -> tuple[PictureInfo, Iterator[ShotFrames]]:
    """The title's picture facts and an iterator over its shots ``(index, start, end)``
    (sorted by start, not overlapping), each on the 25 fps grid at the shard size."""
    info = probe(path)
    if info.video is None:
        raise NoVideoStreamError(f"{info.path}: has no video stream; shards need a picture")
    width, height = shard_size(info.video.width, info.video.height, short_side)
    picture = PictureInfo(fps=info.video.fps, width=info.video.width, height=info.video.height,
                          shard_width=width, shard_height=height, colour={})
    return picture, _shots(info.path, info.video.index, sorted(shots, key=lambda s: s[1]), picture)


def grid_step(fps: float) -> float:
    """Source frames per 25 fps grid frame."""
    return 1.0 if abs(fps - SHARD_FPS) < 1e-3 else fps / SHARD_FPS


def _shots(path: Path, stream_index: int, shots, picture: PictureInfo) -> Iterator[ShotFrames]:
    step = grid_step(picture.fps)
    with open_media(path) as container:
        stream = container.streams[stream_index]
        stream.codec_context.thread_count = 1  # one core per build task
        time_base = stream.time_base
        current, shot, origin = 0, None, None
        k = j = 0  # title frame, grid frame
        for frame in container.decode(stream):
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None:
                continue
            t = float(pts * time_base)
            origin = t if origin is None else origin
            while current < len(shots) and t >= shots[current][2] - _EPS:
                yield _finish(path, shots[current], shot)
                current, shot = current + 1, None
            if current == len(shots):
                return
            first_j = j
            while int(j * step) <= k:  # the grid frames that show frame k
                j += 1
            if t >= shots[current][1] - _EPS and j > first_j:
                if not picture.colour:
                    picture.colour.update(_colour_tags(frame))
                if shot is None:
                    shot = ShotFrames(*shots[current], video_start=origin + first_j / SHARD_FPS,
                                      frames=[], source_indices=[])
                scaled = frame.reformat(width=picture.shard_width, height=picture.shard_height,
                                        format="yuv420p", interpolation="AREA")
                shot.frames.extend([scaled] * (j - first_j))
                shot.source_indices.extend([k] * (j - first_j))
            k += 1
        for pending in shots[current:]:
            yield _finish(path, pending, shot)
            shot = None


def _finish(path: Path, bounds, shot: ShotFrames | None) -> ShotFrames:
    index, start, end = bounds
    if shot is None:
        raise CorruptMediaError(f"{path}: no frames in shot {index} [{start:.3f}, {end:.3f}) s; "
                                "the file is truncated or the catalog is stale: re-run "
                                "`dubclr index`")
    return shot


def _colour_tags(frame: av.VideoFrame) -> dict[str, int]:
    """The source's colour matrix, primaries and transfer, so RGB conversion matches."""
    return {"colorspace": int(frame.colorspace), "color_primaries": int(frame.color_primaries),
            "color_trc": int(frame.color_trc)}
