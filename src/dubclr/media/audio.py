"""Sample-exact audio windows from any track of a title.

`read_audio` returns exactly `round(duration * sample_rate)` samples: native samples are
located by timestamp, zero-padded outside the file, and resampled with a polyphase filter
(`scipy.signal.resample_poly`) over a margin around the window so the edges carry no filter
transient. When the start falls on a native sample the output grid is aligned with it exactly.

Channels are folded by the one downmix (:mod:`dubclr.media.channels`: ITU-R BS.775 as FFmpeg
does, so the centre-channel dialogue of a 5.1 film mix survives) using the channel names the
decoder reports, before resampling.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from dubclr.media.channels import DEFAULT_LAYOUTS, downmix
from dubclr.media.container import open_media
from dubclr.media.errors import CorruptMediaError, MediaError, TrackNotFoundError, WindowError
from dubclr.media.languages import normalize_language
from dubclr.media.probe import AudioTrackInfo, TitleInfo, probe

_EPS = 1e-6
_TRUNCATION_TOLERANCE = 0.25  # seconds of stated audio that may be missing before we call it truncated
_SEEK_BACKOFFS = (0.5, 5.0, None)  # seconds before the window; None: decode from the start

_SCALE = {"u8": (128.0, 128.0), "s16": (0.0, 32768.0), "s32": (0.0, 2147483648.0),
          "s64": (0.0, 9223372036854775808.0), "flt": (0.0, 1.0), "dbl": (0.0, 1.0)}


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling of a whole signal (last axis) to ``rate_out``, float32."""
    if rate_in == rate_out:
        return np.asarray(samples, dtype=np.float32)
    g = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(samples, rate_out // g, rate_in // g, axis=-1).astype(np.float32)


def select_track(info: TitleInfo, track: int | str | AudioTrackInfo | None) -> AudioTrackInfo:
    """The track asked for: None -> the default one, a language ('es', 'spa'), or an index."""
    if not info.audio:
        raise TrackNotFoundError(f"{info.path}: has no audio tracks (and no sidecars like "
                                 f"{info.path.stem}.en.flac next to it)")
    if isinstance(track, AudioTrackInfo):
        return track
    if track is None:
        return next(t for t in info.audio if t.default)
    if isinstance(track, (int, np.integer)) and not isinstance(track, bool):
        if 0 <= track < len(info.audio):
            return info.audio[int(track)]
        raise TrackNotFoundError(f"{info.path}: no audio track {track}; it has {len(info.audio)} "
                                 f"(0..{len(info.audio) - 1}): {_listing(info)}")
    language = normalize_language(str(track))
    for candidate in info.audio:
        if candidate.language == language:
            return candidate
    raise TrackNotFoundError(f"{info.path}: no '{track}' audio track; available: {_listing(info)}")


def read_audio(path: str | Path, start: float, duration: float,
               track: int | str | AudioTrackInfo | None = None, sample_rate: int = 48000,
               mono: bool | None = None, *, channels: int | None = None) -> np.ndarray:
    """float32 samples in [-1, 1] of a window, N = round(duration * sample_rate) per channel.

    ``channels=1`` or ``2``: ``(channels, N)``, the track folded by the one downmix (a mono
    track is duplicated for 2). Without ``channels``: ``(N,)``, the mono fold (``mono=True``,
    the default), or every channel of the track as decoded, ``(C, N)`` (``mono=False``).
    """
    out_channels, squeeze = _wanted_channels(mono, channels)
    info = probe(path)
    chosen = select_track(info, track)
    stated_end = max(chosen.duration, info.duration)
    if duration <= 0 or start < -_EPS or start >= stated_end - _EPS:
        raise WindowError(f"{info.path}: audio window start={start:.3f}s duration={duration:.3f}s "
                          f"is outside the track (0 to {stated_end:.3f}s); use 0 <= start < "
                          f"{stated_end:.3f} and duration > 0")
    count = round(duration * sample_rate)
    native_rate = chosen.sample_rate
    ratio = Fraction(sample_rate, native_rate)
    up, down = ratio.numerator, ratio.denominator
    first = round(start * native_rate)
    if up == 1 and down == 1:
        out = _read_native(chosen, first, first + count, info, out_channels)
    else:
        # a margin that is a multiple of `down` keeps the output grid on `first`
        half_filter = 10 * max(1, math.ceil(down / up)) + 16
        margin = down * math.ceil(half_filter / down)
        last = first + math.ceil(count * down / up) + margin
        native = _read_native(chosen, first - margin, last, info, out_channels)
        resampled = resample_poly(native, up, down, axis=-1).astype(np.float32)
        offset = margin * up // down
        out = resampled[:, offset:offset + count]
        if out.shape[1] < count:
            out = np.pad(out, ((0, 0), (0, count - out.shape[1])))
    out = np.clip(out, -1.0, 1.0, out=out)
    return out[0] if squeeze else np.ascontiguousarray(out)


def _wanted_channels(mono: bool | None, channels: int | None) -> tuple[int | None, bool]:
    """(channels to fold to or None for the track's own, whether to return 1-D)."""
    if channels is not None:
        if channels not in (1, 2):
            raise ValueError(f"read_audio: channels must be 1 or 2 (or None), got {channels}")
        if mono is not None and bool(mono) != (channels == 1):
            raise ValueError(f"read_audio: mono={mono} contradicts channels={channels}; pass one")
        return channels, False
    if mono is None or mono:
        return 1, True
    return None, False


def _read_native(track: AudioTrackInfo, first: int, last: int, info: TitleInfo,
                 out_channels: int | None = None) -> np.ndarray:
    """Native-rate samples `[first, last)` of a track, zeros outside the file, `(C, n)`: the
    track's channels, or folded to ``out_channels`` with the decoder's channel names."""
    rate = track.sample_rate
    buffer = np.zeros((track.channels, last - first), dtype=np.float32)
    want_from, want_to = max(first, 0), last
    stated_samples = round(track.duration * rate)
    decoded_to, layout = _fill(track, buffer, first, want_from, want_to)
    expected_to = min(want_to, stated_samples)
    if decoded_to < expected_to - _TRUNCATION_TOLERANCE * rate:
        raise CorruptMediaError(
            f"{track.path}: audio stops at {decoded_to / rate:.3f}s but the file states "
            f"{track.duration:.3f}s (track {track.index}, '{track.language}'); it is probably "
            f"truncated. Re-encode or re-download it")
    if out_channels is None:
        return buffer
    layout = layout or track.layout or None
    if layout is None and track.channels not in DEFAULT_LAYOUTS:
        raise MediaError(f"{track.path}: track {track.index} ('{track.language}') has "
                         f"{track.channels} channels and no channel layout, so it cannot be "
                         "folded to mono or stereo; remux it with a layout (ffmpeg -ac)")
    return downmix(buffer, out_channels, layout)


def _fill(track: AudioTrackInfo, buffer: np.ndarray, first: int, want_from: int,
          want_to: int) -> tuple[int, tuple[str, ...]]:
    """Decode into `buffer` (whose column 0 is native sample `first`); returns the end
    reached and the decoder's channel names (() when it decoded nothing)."""
    rate = track.sample_rate
    with open_media(track.path) as container:
        stream = container.streams[track.stream_index]
        for backoff in _SEEK_BACKOFFS:
            seek_to = 0.0 if backoff is None else max(0.0, want_from / rate - backoff)
            if seek_to > 0:
                container.seek(int(seek_to / stream.time_base), stream=stream, backward=True)
            else:
                container.seek(0, stream=stream, backward=True)
            decoded = _decode_into(container, stream, buffer, first, want_from, want_to,
                                   counting=seek_to == 0)
            if decoded is not None:
                return decoded
    return want_from, ()


def _decode_into(container, stream, buffer, first, want_from, want_to, counting):
    """Copy decoded samples into `buffer`; returns (end reached, channel names), or None when
    the seek landed after `want_from`.

    Container timestamps can be coarse (Matroska: 1 ms, up to 24 samples at 48 kHz). Decoded
    audio is contiguous, so every frame's rounded timestamp bounds the position of the first
    decoded sample; we take the first timestamp moved into those bounds. That is exact when
    frames start on whole ticks (reading from the start; our writer's 40 ms FLAC/PCM frames)
    and otherwise within half a tick.
    """
    rate = stream.codec_context.sample_rate or stream.rate
    half_tick = max(0.5, 0.5 * float(stream.time_base * rate))  # timestamp rounding, in samples
    low, high = -math.inf, math.inf
    first_center = None  # first sample's position according to the first timestamp
    chunks = []  # (offset from the first decoded sample, samples)
    decoded = 0
    layout: tuple[str, ...] = ()
    for frame in container.decode(stream):
        if not layout:
            layout = tuple(c.name for c in frame.layout.channels)
        if frame.pts is not None:
            center = float(frame.pts * stream.time_base) * rate - decoded
            low, high = max(low, center - half_tick), min(high, center + half_tick)
            if first_center is None:
                first_center = center
        elif first_center is None and not counting:
            return None  # cannot place frames after a seek without timestamps
        if not chunks and not counting and first_center - half_tick > want_from:
            return None  # landed after the window start: seek further back
        data = _to_float(frame)
        chunks.append((decoded, data))
        decoded += data.shape[1]
        if (first_center or 0.0) + decoded >= want_to + half_tick:
            break
    if first_center is None:
        origin = 0  # no timestamps at all: counted from the start of the stream
    elif low <= high:  # the first timestamp, moved into the range all timestamps allow
        origin = min(max(round(first_center), math.ceil(low)), math.floor(high))
    else:  # timestamps disagree with contiguity (a gap in the stream): trust the first one
        origin = round(first_center)
    reached = want_from
    for offset, data in chunks:
        lo, hi = max(origin + offset, want_from), min(origin + offset + data.shape[1], want_to)
        if hi > lo:
            channels = min(buffer.shape[0], data.shape[0])
            start = lo - origin - offset
            buffer[:channels, lo - first:hi - first] = data[:channels, start:start + hi - lo]
            reached = max(reached, hi)
    return reached, (layout if len(layout) == buffer.shape[0] else ())


def _to_float(frame) -> np.ndarray:
    """A decoded audio frame as float32 `(C, n)` in [-1, 1], whatever its sample format."""
    array = frame.to_ndarray()
    fmt = frame.format.name.rstrip("p")
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        array = array.reshape(-1, channels).T
    offset, scale = _SCALE.get(fmt, (0.0, 1.0))
    out = array.astype(np.float32)
    if offset or scale != 1.0:
        out = (out - offset) / scale
    return out


def _listing(info: TitleInfo) -> str:
    return ", ".join(f"{t.index}:{t.language}" + (f" ({t.path.name})" if t.path != info.path else "")
                     for t in info.audio)
