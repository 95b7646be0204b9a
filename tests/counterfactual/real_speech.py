"""A single-track title of real English speech with real subtitles, for the counterfactual tests.

The speech is alsa-utils' recordings of a man saying "Front center", "Front left", ... (48 kHz
WAVs from the Debian package), over that package's Noise.wav as background. ``make setup``
unpacks them with the other real test media into ``.cache/realmedia`` (dubclr.testing.sources)
unless the system has them in /usr/share/sounds/alsa.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubclr.media.subtitles import format_srt

REALMEDIA = Path(os.environ.get("DUBCLR_REALMEDIA", Path(__file__).resolve().parents[2] / ".cache/realmedia"))
ALSA_DIRS = (Path("/usr/share/sounds/alsa"), REALMEDIA / "alsa-utils/usr/share/sounds/alsa")
RATE = 48000
DURATION = 13.0
# (recording, words, start s): six phrases, two pairs close enough for one subtitle cue each
PHRASES = (("Front_Center", "Front center", 0.4), ("Front_Left", "Front left", 2.1),
           ("Front_Right", "Front right", 4.4), ("Rear_Center", "Rear center", 7.0),
           ("Rear_Left", "Rear left", 8.6), ("Side_Left", "Side left", 10.8))
# Spanish subtitles as a translator would time them: one cue may span two phrases
SPANISH_CUES = ((0.3, 3.7, "Centro frontal. Izquierda frontal."), (4.3, 6.0, "Derecha frontal."),
                (6.9, 10.0, "Centro trasero. Izquierda trasera."), (10.7, 12.3, "Lateral izquierdo."))


@dataclass
class SpeechTitle:
    video: Path
    speech: list[tuple[float, float]]  # where the recordings speak (s)

    @property
    def speech_seconds(self) -> float:
        return sum(b - a for a, b in self.speech)


def alsa_sounds() -> Path | None:
    return next((d for d in ALSA_DIRS if (d / "Front_Center.wav").is_file()
                 and (d / "Noise.wav").is_file()), None)


def _spoken_span(samples: np.ndarray) -> tuple[int, int]:
    """First and last sample of a recording's speech (10 ms frames within 35 dB of its peak)."""
    from dubclr.counterfactual.audio import frame_energy_db

    levels = frame_energy_db(samples, RATE, 0.01)
    loud = np.flatnonzero(levels > levels.max() - 35.0)
    return int(loud[0] * 0.01 * RATE), int((loud[-1] + 1) * 0.01 * RATE)


def build_speech_title(folder: Path, sounds: Path, name: str = "speech_title",
                       spanish: bool = True) -> SpeechTitle:
    """``folder/<name>.mkv`` (160x90 H.264 at 10 fps + one English FLAC track), its English
    subtitles and (if ``spanish``) Spanish ones; no stems."""
    from dubclr.counterfactual.audio import read_wav
    from dubclr.media import resample
    from dubclr.media.writer import AudioTrack, write_title

    noise, rate = read_wav(sounds / "Noise.wav")
    noise = resample(noise, rate, RATE)
    track = 0.1 * np.resize(noise, int(DURATION * RATE)).astype(np.float32)  # about -45 dBFS
    speech, cues = [], []
    for recording, words, start in PHRASES:
        samples, rate = read_wav(sounds / f"{recording}.wav")
        samples = resample(samples, rate, RATE)
        at = int(start * RATE)
        track[at: at + len(samples)] += samples
        a, b = _spoken_span(samples)
        speech.append((start + a / RATE, start + b / RATE))
        cues.append((round(start + a / RATE - 0.1, 2), round(start + b / RATE + 0.1, 2), words + "."))
    folder.mkdir(parents=True, exist_ok=True)
    t = np.linspace(0, 1, 160, dtype=np.float32)
    frames = (np.clip(np.outer(np.ones(90), np.sin(2 * np.pi * (t + k / 50))) * 127 + 128, 0, 255
                      ).astype(np.uint8)[..., None].repeat(3, axis=2) for k in range(int(DURATION * 10)))
    video = write_title(folder / f"{name}.mkv", frames, 10,
                        audio=[AudioTrack(track, RATE, language="en", default=True)])
    (folder / f"{name}.en.srt").write_text(format_srt(cues), encoding="utf-8")
    if spanish:
        (folder / f"{name}.es.srt").write_text(format_srt(SPANISH_CUES), encoding="utf-8")
    return SpeechTitle(video, speech)
