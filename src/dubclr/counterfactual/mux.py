"""Mux (stage 'mux'): one MKV with the video stream copied, the original audio and one
language-tagged FLAC stream per dub, so ``dubclr index`` sees a multi-track title.

Packets of the input are copied (no re-encode); the new tracks are encoded in step with them so
the file interleaves and memory stays bounded for long titles.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dubclr.counterfactual.languages import container_code
from dubclr.counterfactual.segments import REVOICED
from dubclr.media.container import corrupt

_CHUNK_S = 1.0


def _to_s16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)[None, :]


class _Encoder:
    """Feeds one new audio track to its stream in chunks."""

    def __init__(self, container, samples: np.ndarray, rate: int, language: str, title: str,
                 disposition):
        self.stream = container.add_stream("flac", rate=rate, layout="mono")
        self.stream.metadata["language"] = container_code(language)
        self.stream.metadata["title"] = title
        self.stream.disposition = disposition
        self.samples, self.rate, self.done = samples, rate, 0

    def feed_until(self, container, seconds: float | None) -> None:
        stop = len(self.samples) if seconds is None else min(len(self.samples), int(seconds * self.rate))
        while self.done < stop:
            n = min(stop - self.done, int(_CHUNK_S * self.rate))
            frame = av.AudioFrame.from_ndarray(_to_s16(self.samples[self.done:self.done + n]),
                                               format="s16", layout="mono")
            frame.sample_rate = self.rate
            frame.pts = self.done
            frame.time_base = Fraction(1, self.rate)
            container.mux(self.stream.encode(frame))
            self.done += n
        if seconds is None:
            container.mux(self.stream.encode(None))


def track_title(language: str, source: str, translation: str | None) -> str:
    """The stream title of a synthetic track; a re-voicing says it is not a translation."""
    if translation == REVOICED:
        return f"synthetic {language} voice, {source} text ({REVOICED})"
    return f"synthetic dub ({language})"


def mux_title(video_path: str | Path, out_path: str | Path, *, original_stream_index: int | None,
              original_language: str, original_samples: np.ndarray | None, rate: int,
              dubs: dict[str, np.ndarray], titles: dict[str, str] | None = None) -> Path:
    """Write ``out_path`` (atomically). The original audio is copied from stream
    ``original_stream_index`` of the video file, or encoded from ``original_samples`` when it
    lives in a sidecar. ``dubs`` maps language -> mono float samples at ``rate``; ``titles``
    language -> stream title (default "synthetic dub (LANG)")."""
    video_path, out_path = Path(video_path), Path(out_path)
    tmp = out_path.with_name(f".{out_path.stem}.{os.getpid()}.tmp.mkv")
    try:
        with av.open(str(video_path)) as src, av.open(str(tmp), "w", format="matroska") as dst:
            copies = {}
            video_in = src.streams.video[0] if src.streams.video else None
            if video_in is not None:
                copies[video_in.index] = dst.add_stream_from_template(video_in)
            encoders = []
            if original_stream_index is not None:
                a_in = src.streams[original_stream_index]
                a_out = dst.add_stream_from_template(a_in)
                a_out.metadata["language"] = container_code(original_language)
                a_out.disposition = av.stream.Disposition.default | av.stream.Disposition.original
                copies[a_in.index] = a_out
            else:
                encoders.append(_Encoder(dst, original_samples, rate, original_language, "original",
                                         av.stream.Disposition.default | av.stream.Disposition.original))
            for lang, samples in dubs.items():
                title = (titles or {}).get(lang) or track_title(lang, original_language, None)
                encoders.append(_Encoder(dst, samples, rate, lang, title, av.stream.Disposition.dub))
            for packet in src.demux(*[src.streams[i] for i in copies]):
                if packet.size == 0:  # the flush packet demux ends each stream with
                    continue
                t = float(packet.pts * packet.time_base) if packet.pts is not None else None
                if t is not None:
                    for enc in encoders:
                        enc.feed_until(dst, t + _CHUNK_S)
                packet.stream = copies[packet.stream.index]
                dst.mux(packet)
            for enc in encoders:
                enc.feed_until(dst, None)
        os.replace(tmp, out_path)
    except av.error.FFmpegError as exc:
        raise corrupt(video_path, exc, "mux the dubbed title") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return out_path
