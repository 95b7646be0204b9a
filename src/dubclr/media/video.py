"""Frame-accurate video windows.

A window `[start, start + duration)` holds the frames whose timestamps fall inside it. They are
resampled to `fps` by index (the authors' rule: keep `linspace(0, n - 1, ceil(n / native_fps *
fps))`, floored) and then `num_frames` are taken uniformly (`linspace(0, t - 1, num_frames)`,
float32, truncated; frames repeat when the window is short). Matroska seeks can land after the
asked time, so we seek before the window, check where we landed and trim by timestamps.

With ``short_side``, each clip is scaled inside the decoder (swscale, straight from the
decoded YUV frame to RGB at the small size) so that its short side is at most ``short_side``,
with its own aspect ratio (non-square pixels made square); a clip already small enough keeps
its size. A 16-frame 1080p clip is 99.5 MB at source resolution and 8.7 MB at short side 320.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np

from dubclr.media.container import open_media
from dubclr.media.errors import CorruptMediaError, NoVideoStreamError, WindowError
from dubclr.media.probe import probe

_EPS = 1e-6  # seconds; timestamps are rationals, this absorbs float rounding
_SEEK_BACKOFFS = (0.5, 3.0, 15.0, None)  # seconds before the window; None: from the start
# swscale filter for the in-decoder downscale: BILINEAR (a triangle filter widened to the
# ratio, so antialiased) is the closest to an ideal antialiased resize (46 dB PSNR; AREA 44,
# BICUBIC 44, FAST_BILINEAR 31: aliased) at the same speed as AREA
# (benchmarks/bench_video_scale.py, docs/performance.md)
SCALE_INTERPOLATION = "BILINEAR"


def resample_indices(num_frames: int, native_fps: float, fps: float) -> np.ndarray:
    """Indices that resample `num_frames` frames at `native_fps` to `fps` (nearest by index)."""
    if num_frames <= 0:
        return np.zeros(0, dtype=np.int64)
    if abs(native_fps - fps) < 1e-3:
        return np.arange(num_frames, dtype=np.int64)
    count = max(1, math.ceil(num_frames / native_fps * fps - 1e-9))
    return np.linspace(0, num_frames - 1, num=count).astype(np.int64)


def uniform_subsample_indices(length: int, num_frames: int) -> np.ndarray:
    """`num_frames` indices spread uniformly over `length` items (repeats when it is short)."""
    if length <= 0:
        raise ValueError("cannot subsample an empty clip")
    positions = np.linspace(0, length - 1, num_frames, dtype=np.float32)
    return np.clip(positions, 0, length - 1).astype(np.int64)


def short_side_size(width: int, height: int, short_side: int, sar: float = 1.0) -> tuple[int, int]:
    """``(width, height)`` with the short side at ``short_side`` (pytorchvideo's ShortSideScale
    rule: the long side floored), square pixels for a sample aspect ratio ``sar``; the size
    itself when it is already no larger."""
    display_width = width * sar
    if min(display_width, height) <= short_side and sar == 1.0:
        return width, height
    if min(display_width, height) <= short_side:  # square the pixels, keep the short side
        short_side = int(round(min(display_width, height)))
    if display_width < height:
        return short_side, int(math.floor(height / display_width * short_side))
    return int(math.floor(display_width / height * short_side)), short_side


def read_video(path: str | Path, start: float, duration: float, fps: float | None = 25,
               num_frames: int | None = 16, short_side: int | None = None) -> np.ndarray:
    """uint8 RGB frames `(T, H, W, 3)` of the window `[start, start + duration)`.

    `fps=None` keeps the native rate; `num_frames=None` returns every resampled frame.
    `short_side`: scale in the decoder so that `min(H, W) <= short_side`, aspect kept.
    """
    info = probe(path)
    if info.video is None:
        raise NoVideoStreamError(f"{info.path}: has no video stream (audio only?); "
                                 f"use read_audio for it, or pass a video file")
    if duration <= 0 or start < -_EPS:
        raise WindowError(f"{info.path}: window start={start:.3f}s duration={duration:.3f}s is "
                          f"empty or negative; use start >= 0 and duration > 0")
    if short_side is not None and short_side < 1:
        raise ValueError(f"short_side must be a positive number of pixels, got {short_side}")
    stated_end = max(info.video.duration, info.duration)
    if start >= stated_end - _EPS:
        raise WindowError(f"{info.path}: window starts at {start:.3f}s but the video ends at "
                          f"{stated_end:.3f}s; choose start < {stated_end:.3f}")
    frames = _decode_window(info.path, info.video.index, max(start, 0.0), start + duration)
    if not frames:
        raise CorruptMediaError(f"{info.path}: no frames decoded in [{start:.3f}, "
                                f"{start + duration:.3f}) s although the file says it lasts "
                                f"{stated_end:.3f} s; it is probably truncated. Re-encode or "
                                f"re-download it")
    chosen = resample_indices(len(frames), info.video.fps, fps) if fps else np.arange(len(frames))
    if num_frames is not None:
        chosen = chosen[uniform_subsample_indices(len(chosen), num_frames)]
    first = frames[int(chosen[0])]
    width, height = (first.width, first.height) if short_side is None else short_side_size(
        first.width, first.height, short_side, info.video.sar)
    if (width, height) == (first.width, first.height):  # nothing to scale
        return np.stack([frames[i].to_ndarray(format="rgb24") for i in chosen])
    return np.stack([frames[i].reformat(width=width, height=height, format="rgb24",
                                        interpolation=SCALE_INTERPOLATION).to_ndarray()
                     for i in chosen])


def _decode_window(path: Path, stream_index: int, start: float, end: float) -> list[av.VideoFrame]:
    with open_media(path) as container:
        stream = container.streams[stream_index]
        for backoff in _SEEK_BACKOFFS:
            seek_to = 0.0 if backoff is None else max(0.0, start - backoff)
            landed, frames = _decode_from(container, stream, seek_to, start, end)
            if landed is None or landed <= start + _EPS or seek_to == 0.0:
                return frames
        return frames


def _decode_from(container, stream, seek_to: float, start: float,
                 end: float) -> tuple[float | None, list[av.VideoFrame]]:
    """Seek to a keyframe at or before `seek_to`, decode, keep frames in `[start, end)`.

    Returns the time of the first decoded frame (where the seek landed) and the frames.
    """
    time_base = stream.time_base
    container.seek(int(math.floor(seek_to / time_base)) if seek_to > 0 else 0,
                   stream=stream, backward=True, any_frame=False)
    landed = None
    kept = []
    frames = (_counted_frames(container, stream) if container.format.name == "avi"
              else ((frame, _frame_time(frame, time_base)) for frame in container.decode(stream)))
    for frame, t in frames:
        if t is None:
            continue
        if landed is None:
            landed = t
            if t > start + _EPS and seek_to > 0:
                return landed, []  # landed late: the caller seeks further back
        if t >= end - _EPS:
            break
        if t >= start - _EPS:
            kept.append(frame)
    return landed, kept


def _counted_frames(container, stream):
    """(frame, time) for AVI, which stores decode-order timestamps: with B-frames a decoded
    frame's pts belongs to another frame. Frames come out in display order at a constant
    rate from the keyframe the seek landed on, so the k-th is at that keyframe's time plus
    k frames."""
    fps = stream.average_rate or stream.guessed_rate
    start, count = None, 0
    for packet in container.demux(stream):
        if start is None and packet.dts is not None:
            start = float(packet.dts * stream.time_base)
        for frame in packet.decode():
            yield frame, None if start is None else start + float(count / fps)
            count += 1


def _frame_time(frame: av.VideoFrame, time_base) -> float | None:
    pts = frame.pts if frame.pts is not None else frame.dts
    if pts is None:
        return None
    return float(pts * time_base)
