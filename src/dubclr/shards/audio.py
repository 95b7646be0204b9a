"""A shot's audio tracks in a shard: folded to stereo once, stored losslessly, read by window.

Channel policy (the one of `dubclr.media.channels`): a surround track is folded to stereo
with the ITU-R BS.775 downmix, a stereo track is kept, a mono track stays mono (a stereo
model gets it duplicated, a mono model the mean of a stereo pair, at read time). A fold can
exceed full scale (FL + 0.71 FC + 0.71 SL), so the stored 16-bit samples are ``wave / scale``
with ``scale`` the largest gain sum of the matrix; readers multiply back. Quantising to 16
bits is the only loss: at most half a step, ``scale * 2**-16`` in absolute value.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dubclr.media.channels import DEFAULT_LAYOUTS, channel_names, downmix, downmix_matrix
from dubclr.media.container import open_media
from dubclr.media.errors import CorruptMediaError

STORED_BITS = 16
FLAC_FRAME = 8192  # samples per FLAC frame: a 3 s window decodes ~18 frames (measured fastest)
_FULL_SCALE = 2 ** (STORED_BITS - 1)
_LAYOUT_OF = {1: "mono", 2: "stereo"}


def track_layout(path: str | Path, stream_index: int | None) -> tuple[tuple[str, ...], str]:
    """Channel names (FFmpeg's: FL FR FC ...) and the layout name of an audio stream."""
    with open_media(path) as container:
        stream = (container.streams[stream_index] if stream_index is not None
                  else container.streams.audio[0])
        layout = stream.layout
        count = len(layout.channels) or stream.codec_context.channels
        if layout.name.endswith("channels"):  # order unspecified: FFmpeg's default for the count
            return channel_names(count) if count in DEFAULT_LAYOUTS else (), layout.name
        return tuple(channel.name for channel in layout.channels), layout.name


def fold_channels(wave: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, float]:
    """``(C, N)`` -> stereo (or mono for a mono source) and the scale it is to be stored at."""
    if wave.shape[0] <= 2:
        return wave, 1.0
    folded = downmix(wave, 2, names if len(names) == wave.shape[0] else None)
    matrix = downmix_matrix(names if len(names) == wave.shape[0] else wave.shape[0], 2)
    return folded, max(1.0, float(np.abs(matrix).sum(axis=1).max()))


def encode_flac(wave: np.ndarray, sample_rate: int, scale: float = 1.0) -> bytes:
    """``(C, N)`` float samples (C = 1 or 2) as a 16-bit FLAC file in memory."""
    channels = wave.shape[0]
    values = np.clip(np.round(wave / scale * _FULL_SCALE), -_FULL_SCALE, _FULL_SCALE - 1)
    interleaved = np.ascontiguousarray(values.astype(np.int16).T)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=sample_rate)
        stream.layout = _LAYOUT_OF[channels]
        stream.format = "s16"
        stream.codec_context.options = {"frame_size": str(FLAC_FRAME)}
        chunk = FLAC_FRAME
        for start in range(0, interleaved.shape[0], chunk):
            block = interleaved[start:start + chunk]
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16",
                                               layout=_LAYOUT_OF[channels])
            frame.sample_rate, frame.pts = sample_rate, start
            frame.time_base = Fraction(1, sample_rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def decode_flac_window(data: bytes, first: int, count: int, *, scale: float = 1.0,
                       name: str = "track") -> np.ndarray:
    """Samples ``[first, first + count)`` of a FLAC member as float32 ``(C, count)``; zeros
    outside it. Only the FLAC frames that overlap the window are decoded."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.audio[0]
            out = np.zeros((stream.codec_context.channels, count), dtype=np.float32)
            ctx = stream.codec_context
            for packet in container.demux(stream):
                if packet.pts is None or not packet.size:
                    continue
                if packet.pts >= first + count:
                    break
                if packet.pts + (packet.duration or 0) <= first:
                    continue
                for frame in ctx.decode(packet):
                    _place(frame, out, first)
    except av.FFmpegError as exc:
        raise CorruptMediaError(f"{name}: cannot decode the shard audio ({exc}); the shard is "
                                "damaged: rebuild its title with `dubclr shards build`") from None
    if scale != 1.0:
        out *= scale
    return out


def _place(frame: av.AudioFrame, out: np.ndarray, first: int) -> None:
    samples = frame.to_ndarray()  # s16 interleaved (1, n * C) or planar (C, n)
    channels = out.shape[0]
    if not frame.format.is_planar:
        samples = samples.reshape(-1, channels).T
    start = frame.pts - first
    lo, hi = max(start, 0), min(start + samples.shape[1], out.shape[1])
    if hi > lo:
        out[:, lo:hi] = samples[:, lo - start:hi - start] / _FULL_SCALE
