"""Dialogue of a title: lines placed in shots, spoken in every language, plus SRT files.

In the toy world every language version of a line starts when the original does (as a dub
would), so the line's slot is as long as its longest rendering; a line that does not fit its
shot is swapped for a shorter one or left out. The study world (`study_world.py`) re-times
and re-voices its dubs: a line then carries a per-language onset offset.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from dubclr.media import resample
from dubclr.media.subtitles import format_srt
from dubclr.synth.phrasebook import PHRASES, phrase_length
from dubclr.synth.tts import VARIANTS, synthesize

LINE_PEAK = 0.6
_SILENCE = 0.01  # amplitude below which TTS lead-in and tail are trimmed


# Voice timbres: a formant region boosted 12 dB, as recognisable as a face (study world).
TIMBRE_HZ = (250.0, 450.0, 800.0, 1400.0, 2500.0, 4000.0)


@dataclass(frozen=True)
class Speaker:
    id: str
    variant: str
    pitch: int
    rate: int
    timbre: int | None = None  # index into TIMBRE_HZ; None: espeak-ng's voice as it is

    def label(self) -> dict:
        out = {"id": self.id, "voice": self.variant, "pitch": self.pitch, "rate": self.rate}
        if self.timbre is not None:
            out["timbre"] = self.timbre
        return out


@dataclass
class Line:
    shot: int
    speaker: str
    phrase: int
    start: float  # seconds in the title: the original's onset
    audio: dict[str, np.ndarray]  # language -> samples at the title's rate
    offsets: dict[str, float] = field(default_factory=dict)  # language -> onset - start

    def begin(self, language: str) -> float:
        """Onset of the line in `language` (the original's unless the dub was re-timed)."""
        return round(self.start + self.offsets.get(language, 0.0), 3)

    def segment(self, language: str, sample_rate: int) -> tuple[float, float]:
        begin = self.begin(language)
        return begin, begin + len(self.audio[language]) / sample_rate


def draw_speakers(rng: np.random.Generator, count: int) -> list[Speaker]:
    """`count` speakers with distinct voice variants and pitches."""
    variants = rng.permutation(len(VARIANTS))[:count]
    return [Speaker(id=f"s{i}", variant=VARIANTS[v], pitch=int(rng.integers(25, 76)),
                    rate=int(rng.integers(150, 186))) for i, v in enumerate(variants)]


@functools.lru_cache(maxsize=4096)
def spoken(text: str, language: str, variant: str, pitch: int, rate: int,
           sample_rate: int, timbre: int | None = None) -> np.ndarray:
    """TTS of one line at `sample_rate`, silence trimmed, with the `timbre`'s formant region
    boosted (`TIMBRE_HZ`), peak-normalised to `LINE_PEAK`."""
    samples, native_rate = synthesize(text, language, voice=variant, pitch=pitch, rate=rate)
    loud = np.nonzero(np.abs(samples) > _SILENCE)[0]
    if len(loud) == 0:
        return np.zeros(0, dtype=np.float32)
    samples = samples[max(loud[0] - 100, 0):loud[-1] + 100]
    samples = resample(samples, native_rate, sample_rate)
    if timbre is not None:
        sos = butter(2, [TIMBRE_HZ[timbre] / 1.4, TIMBRE_HZ[timbre] * 1.4], btype="bandpass",
                     fs=sample_rate, output="sos")
        samples = samples + 3.0 * sosfilt(sos, samples)
    samples = (samples * (LINE_PEAK / max(float(np.abs(samples).max()), 1e-6))).astype(np.float32)
    samples.setflags(write=False)  # cached and shared: nobody may change it
    return samples


def place_lines(rng: np.random.Generator, shots: list[dict], shot_speakers: list[list[Speaker]],
                languages: tuple[str, ...], sample_rate: int, max_lines: int = 2) -> list[Line]:
    """Up to `max_lines` lines per shot, each spoken by one of the shot's speakers."""
    order = sorted(range(len(PHRASES)), key=lambda i: phrase_length(PHRASES[i]))
    lines = []
    for shot, speakers in zip(shots, shot_speakers):
        cursor = shot["start"] + float(rng.uniform(0.25, 0.7))
        for _ in range(max_lines):
            speaker = speakers[int(rng.integers(len(speakers)))]
            candidate = int(rng.integers(len(PHRASES)))
            placed = False
            for phrase in _shorter_first_from(candidate, order):
                audio = {lang: spoken(PHRASES[phrase][lang], lang, speaker.variant, speaker.pitch,
                                      speaker.rate, sample_rate) for lang in languages}
                longest = max(len(a) for a in audio.values()) / sample_rate
                if cursor + longest + 0.2 <= shot["end"]:
                    lines.append(Line(shot["index"], speaker.id, phrase, round(cursor, 3), audio))
                    cursor += longest + float(rng.uniform(0.3, 0.9))
                    placed = True
                    break
            if not placed:
                break
    return lines


def _shorter_first_from(candidate: int, order: list[int], tries: int = 4) -> list[int]:
    """The drawn phrase, then up to `tries - 1` shorter ones (down to the shortest)."""
    position = order.index(candidate)
    shorter = order[:position][::-1]
    step = max(1, len(shorter) // (tries - 1)) if shorter else 1
    return [candidate] + shorter[::step][: tries - 2] + ([order[0]] if position else [])


def speech_track(lines: list[Line], language: str, num_samples: int, sample_rate: int,
                 speaker: str | None = None) -> np.ndarray:
    """The speech of one language as a title-long track (optionally one speaker only)."""
    track = np.zeros(num_samples, dtype=np.float32)
    for line in lines:
        if speaker is not None and line.speaker != speaker:
            continue
        audio = line.audio[language]
        start = int(round(line.begin(language) * sample_rate))
        end = min(num_samples, start + len(audio))
        track[start:end] += audio[: end - start]
    return track


def mouth_openings(speech: np.ndarray, sample_rate: int, fps: int, num_frames: int) -> np.ndarray:
    """Per video frame, how open a mouth is (0-1): the RMS envelope of `speech`."""
    hop = sample_rate // fps
    frames = speech[: num_frames * hop]
    frames = np.pad(frames, (0, num_frames * hop - len(frames))).reshape(num_frames, hop)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return np.clip(rms / (0.35 * LINE_PEAK), 0.0, 1.0)


def write_srt(path: Path, lines: list[Line], language: str, sample_rate: int) -> Path:
    """SubRip subtitles of one language."""
    cues = [(*line.segment(language, sample_rate), PHRASES[line.phrase][language])
            for line in sorted(lines, key=lambda x: x.begin(language))]
    path.write_text(format_srt(cues), encoding="utf-8")
    return path
