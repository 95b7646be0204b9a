"""One sequential decode of a title's picture, cut into its kept shots on the 25 fps grid.

A shot ``[start, end)`` holds the source frames whose timestamps fall in it (the rule of
`dubclr.media.read_video`). Its frames are scaled to the shard size as they are decoded; when
the shot ends, the paper's 25 fps rule is applied once, to the whole shot
(`dubclr.media.resample_indices`: keep ``linspace(0, n - 1, ceil(n / fps * 25))``, floored),
so shard frame ``j`` shows source frame ``k_j`` of the shot and stands at title time
``video_start + j / 25``. Frames outside kept shots are decoded but never scaled.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av

from dubclr.media.container import open_media
from dubclr.media.errors import CorruptMediaError, NoVideoStreamError
from dubclr.media.probe import probe
from dubclr.media.video import resample_indices
from dubclr.shards.video import SHARD_FPS, shard_size

_EPS = 1e-6  # seconds; as in dubclr.media.video


@dataclass
class ShotFrames:
    """One kept shot's frames on the 25 fps grid, at the shard size."""

    index: int  # the catalog's shot index
    start: float
    end: float
    video_start: float  # title time of the shot's first source frame
    frames: list[av.VideoFrame]
    source_indices: list[int]  # k_j: which source frame of the shot each shard frame shows


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


def _shots(path: Path, stream_index: int, shots, picture: PictureInfo) -> Iterator[ShotFrames]:
    with open_media(path) as container:
        stream = container.streams[stream_index]
        stream.codec_context.thread_count = 1  # one core per build task
        time_base = stream.time_base
        current, collected, first_time = 0, [], None
        for frame in container.decode(stream):
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None:
                continue
            t = float(pts * time_base)
            while current < len(shots) and t >= shots[current][2] - _EPS:
                yield _finish(path, shots[current], collected, first_time, picture)
                current, collected, first_time = current + 1, [], None
            if current == len(shots):
                return
            if t >= shots[current][1] - _EPS:
                if not picture.colour:
                    picture.colour.update(_colour_tags(frame))
                first_time = t if first_time is None else first_time
                collected.append(frame.reformat(width=picture.shard_width,
                                                height=picture.shard_height, format="yuv420p",
                                                interpolation="AREA"))
        for shot in shots[current:]:
            yield _finish(path, shot, collected, first_time, picture)
            collected, first_time = [], None


def _finish(path: Path, shot, collected: list, first_time: float | None,
            picture: PictureInfo) -> ShotFrames:
    index, start, end = shot
    if not collected:
        raise CorruptMediaError(f"{path}: no frames in shot {index} [{start:.3f}, {end:.3f}) s; "
                                "the file is truncated or the catalog is stale: re-run "
                                "`dubclr index`")
    chosen = resample_indices(len(collected), picture.fps, SHARD_FPS)
    return ShotFrames(index=index, start=start, end=end, video_start=first_time,
                      frames=[collected[k] for k in chosen],
                      source_indices=[int(k) for k in chosen])


def _colour_tags(frame: av.VideoFrame) -> dict[str, int]:
    """The source's colour matrix, primaries and transfer, so RGB conversion matches."""
    return {"colorspace": int(frame.colorspace), "color_primaries": int(frame.color_primaries),
            "color_trc": int(frame.color_trc)}
