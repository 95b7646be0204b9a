"""Writing media with PyAV: audio files, and MKV titles with several language-tagged tracks.

Used by the synthetic corpus and by tests that need media with known content. Audio is
interleaved with the video (one chunk per video frame) so the file seeks like a real title.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dubclr.media.errors import MediaError
from dubclr.media.languages import normalize_language, to_quicktime

_AUDIO_CODEC_BY_EXT = {".wav": "pcm_s16le", ".flac": "flac", ".m4a": "aac", ".opus": "libopus",
                       ".mka": "flac", ".ogg": "libopus"}
_FORMAT_BY_CODEC = {"pcm_s16le": "s16", "flac": "s16", "aac": "fltp", "libopus": "flt",
                    "opus": "flt", "pcm_f32le": "flt", "ac3": "fltp", "eac3": "fltp"}
# FFmpeg's layout name for a channel count (the order DEFAULT_LAYOUTS in media.channels uses)
_LAYOUT_BY_CHANNELS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


@dataclass
class AudioTrack:
    """One audio stream to write: float32 samples `(N,)` or `(C, N)` in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    language: str | None = None  # ISO 639-1 or 639-2; written as the stream's language tag
    codec: str = "flac"
    default: bool = False
    title: str | None = None
    original: bool = False  # Matroska FlagOriginal: the track in the title's original language


def write_audio(path: str | Path, samples: np.ndarray, sample_rate: int,
                codec: str | None = None, language: str | None = None) -> Path:
    """Write a mono `(N,)` or multichannel `(C, N)` float signal; codec from the extension."""
    path = Path(path)
    codec = codec or _AUDIO_CODEC_BY_EXT.get(path.suffix.lower())
    if codec is None:
        raise MediaError(f"{path}: cannot tell the audio codec from '{path.suffix}'; "
                         f"use one of {sorted(_AUDIO_CODEC_BY_EXT)} or pass codec=")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = _add_audio_stream(container, AudioTrack(samples, sample_rate, language, codec))
        _encode_audio(container, stream, _as_2d(samples), 0, _as_2d(samples).shape[1], flush=True)
    return path


def write_title(path: str | Path, frames: Iterable[np.ndarray], fps: int | Fraction,
                audio: Sequence[AudioTrack] = (), crf: int = 23, preset: str = "veryfast",
                codec: str = "libx264", threads: int = 1, gop: int | None = None,
                metadata: dict[str, str] | None = None) -> Path:
    """Encode frames plus audio tracks into one file (MKV, MP4...).

    A frame is RGB uint8 `(H, W, 3)` or an `av.VideoFrame` (encoded as it is, e.g. yuv420p
    from a filter graph). `fps` is an integer or an exact rate such as
    `Fraction(24000, 1001)` (23.976).
    """
    path = Path(path)
    fps = Fraction(fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    iterator = iter(frames)
    first = next(iterator, None)
    tracks = [(track, _as_2d(track.samples)) for track in audio]
    with av.open(str(path), mode="w") as container:
        for key, value in (metadata or {}).items():
            container.metadata[key] = value
        video = None
        if first is not None:
            video = container.add_stream(codec, rate=Fraction(fps))
            video.height, video.width = _frame_size(first)
            video.pix_fmt = "yuv420p"
            video.codec_context.thread_count = threads
            if gop:
                video.codec_context.gop_size = gop
            if codec == "libx264":
                video.options = {"crf": str(crf), "preset": preset}
        streams = [_add_audio_stream(container, track) for track, _ in tracks]
        written = [0] * len(tracks)
        index = 0
        for index, frame in enumerate(_chain(first, iterator)):
            picture = frame if isinstance(frame, av.VideoFrame) else av.VideoFrame.from_ndarray(
                np.ascontiguousarray(frame), format="rgb24")
            picture.pts, picture.time_base = index, 1 / fps
            for packet in video.encode(picture):
                container.mux(packet)
            for k, ((track, data), stream) in enumerate(zip(tracks, streams)):
                upto = min(data.shape[1], round((index + 1) * track.sample_rate / fps))
                written[k] = _encode_audio(container, stream, data, written[k], upto)
        if video is not None:
            for packet in video.encode():
                container.mux(packet)
        for k, ((_, data), stream) in enumerate(zip(tracks, streams)):
            _encode_audio(container, stream, data, written[k], data.shape[1], flush=True)
    return path


def _frame_size(frame) -> tuple[int, int]:
    if isinstance(frame, av.VideoFrame):
        return frame.height, frame.width
    return frame.shape[:2]


def _chain(first, rest):
    if first is not None:
        yield first
        yield from rest


def _as_2d(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    return samples[None, :] if samples.ndim == 1 else samples


def _add_audio_stream(container, track: AudioTrack):
    channels = _as_2d(track.samples).shape[0]
    stream = container.add_stream(track.codec, rate=track.sample_rate)
    stream.layout = _LAYOUT_BY_CHANNELS.get(channels, f"{channels}c")
    stream.format = _FORMAT_BY_CODEC.get(track.codec, "fltp")
    if track.codec == "flac" and track.sample_rate % 25 == 0:
        # 40 ms frames start on whole Matroska milliseconds, so reads are sample-exact
        stream.codec_context.options = {"frame_size": str(track.sample_rate // 25)}
    if track.language:
        stream.metadata["language"] = _language_tag(container, track.language)
    if track.title:
        stream.metadata["title"] = track.title
    disposition = av.stream.Disposition(0)
    if track.default:
        disposition |= av.stream.Disposition.default
    if track.original:
        disposition |= av.stream.Disposition.original
    stream.disposition = disposition
    return stream


def _language_tag(container, language: str) -> str:
    """The tag as given, except in MOV, which only stores QuickTime's codes (FFmpeg drops
    any other tag silently, ``fre`` included)."""
    if container.format.name != "mov" or normalize_language(language) == "und":
        return language
    quicktime = to_quicktime(language)
    if quicktime is None:
        raise MediaError(f"{container.name}: a MOV file cannot carry the language "
                         f"{language!r} (QuickTime has no code for it); write MKV or MP4")
    return quicktime


def _encode_audio(container, stream, data: np.ndarray, start: int, stop: int,
                  flush: bool = False) -> int:
    """Encode samples `[start, stop)` of `data` in encoder-sized chunks; returns `stop`."""
    ctx = stream.codec_context
    whole_ms = ctx.sample_rate // 25 if ctx.sample_rate % 25 == 0 else 1024
    chunk = ctx.frame_size or whole_ms
    fmt = stream.format.name
    position = start
    # fixed-size codecs (aac, opus) take whole frames only; the tail waits for the flush
    limit = stop if (flush or not ctx.frame_size) else start + (stop - start) // chunk * chunk
    while position < limit:
        end = min(position + chunk, limit)
        frame = _make_frame(data[:, position:end], fmt, stream.layout.name)
        frame.sample_rate = ctx.sample_rate
        frame.pts = position
        frame.time_base = Fraction(1, ctx.sample_rate)
        for packet in stream.encode(frame):
            container.mux(packet)
        position = end
    if flush:
        for packet in stream.encode(None):
            container.mux(packet)
    return position


def _make_frame(block: np.ndarray, fmt: str, layout: str) -> av.AudioFrame:
    block = np.clip(block, -1.0, 1.0)
    if fmt.startswith("s16"):
        values = np.clip(np.round(block * 32768.0), -32768, 32767).astype(np.int16)
    else:
        values = block.astype(np.float32)
    if fmt.endswith("p"):
        return av.AudioFrame.from_ndarray(np.ascontiguousarray(values), format=fmt, layout=layout)
    return av.AudioFrame.from_ndarray(np.ascontiguousarray(values.T.reshape(1, -1)), format=fmt,
                                      layout=layout)
