"""Procedural music-and-effects beds, one sound event class per scene class."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

# the sound event class of each scene class
SCENE_SOUNDS = {"forest": "birds", "city_street": "engine", "beach": "waves",
                "rainy_window": "rain", "chapel": "bells", "market": "babble",
                "stage": "music_chords", "desert": "wind"}
SOUND_CLASSES = tuple(sorted(set(SCENE_SOUNDS.values())))

BED_LEVEL = 0.05  # RMS of a bed, well under the dialogue (lines peak at 0.6)


def render_bed(sound: str, seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """float32 mono bed of one sound class, normalised to `BED_LEVEL` RMS, 10 ms fades."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    signal = _GENERATORS[sound](n, t, sample_rate, rng)
    rms = float(np.sqrt(np.mean(signal ** 2))) or 1.0
    signal = signal * (BED_LEVEL / rms)
    fade = min(n // 2, int(0.01 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        signal[:fade] *= ramp
        signal[n - fade:] *= ramp[::-1]
    return np.clip(signal, -1, 1).astype(np.float32)


def _band(noise: np.ndarray, low: float, high: float, sample_rate: int) -> np.ndarray:
    sos = butter(2, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    return sosfilt(sos, noise)


def _rain(n, t, sr, rng):
    hiss = _band(rng.standard_normal(n), 1500, 9000, sr)
    drops = np.zeros(n)
    drops[rng.integers(0, n, size=int(n / sr * 60))] = rng.uniform(2, 6, size=int(n / sr * 60))
    return hiss + _band(drops, 2000, 6000, sr)


def _engine(n, t, sr, rng):
    f0 = rng.uniform(35, 60) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 8))
    return tone + 0.3 * _band(rng.standard_normal(n), 80, 800, sr)


def _waves(n, t, sr, rng):
    swell = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(0.08, 0.15) * t + rng.uniform(0, 6)) ** 2
    return swell * _band(rng.standard_normal(n), 100, 2500, sr)


def _birds(n, t, sr, rng):
    out = 0.05 * _band(rng.standard_normal(n), 500, 4000, sr)
    for start in rng.uniform(0, max(n / sr - 0.2, 0.01), size=int(n / sr * 3) + 1):
        length = rng.uniform(0.06, 0.18)
        i0, i1 = int(start * sr), min(n, int((start + length) * sr))
        local = np.arange(i1 - i0) / sr
        f = rng.uniform(2500, 4500) + rng.uniform(-1500, 1500) * local / length
        out[i0:i1] += np.sin(2 * np.pi * np.cumsum(f) / sr) * np.hanning(i1 - i0)
    return out


def _bells(n, t, sr, rng):
    out = np.zeros(n)
    f0 = rng.uniform(300, 600)
    period = rng.uniform(1.0, 2.0)
    for start in np.arange(rng.uniform(0, 0.5), n / sr, period):
        i0 = int(start * sr)
        local = t[: n - i0]
        strike = sum(a * np.sin(2 * np.pi * f0 * r * local) * np.exp(-local * d)
                     for r, a, d in ((1.0, 1.0, 1.2), (2.76, 0.5, 2.0), (5.4, 0.25, 3.5)))
        out[i0:] += strike
    return out


def _babble(n, t, sr, rng):
    out = np.zeros(n)
    for _ in range(8):  # eight murmuring voices: band noise with syllable-rate modulation
        rate = rng.uniform(3, 6)
        envelope = np.maximum(0, np.sin(2 * np.pi * rate * t + rng.uniform(0, 6))) ** 2
        centre = rng.uniform(300, 1200)
        out += envelope * _band(rng.standard_normal(n), centre * 0.7, centre * 1.6, sr)
    return out


def _music_chords(n, t, sr, rng):
    root = rng.uniform(110, 220)
    progression = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 3, 7))
    chord_len = rng.uniform(1.0, 2.0)
    out = np.zeros(n)
    for i, start in enumerate(np.arange(0, n / sr, chord_len)):
        i0, i1 = int(start * sr), min(n, int((start + chord_len) * sr))
        local = t[: i1 - i0]
        chord = progression[i % len(progression)]
        out[i0:i1] = sum(np.sin(2 * np.pi * root * 2 ** (s / 12) * local) for s in chord)
        out[i0:i1] *= np.minimum(1, local / 0.02) * np.exp(-local * 0.8)
    return out


def _wind(n, t, sr, rng):
    gust = 0.4 + 0.6 * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t)) ** 2
    return gust * _band(rng.standard_normal(n), 200, 1200, sr)


_GENERATORS = {"rain": _rain, "engine": _engine, "waves": _waves, "birds": _birds,
               "bells": _bells, "babble": _babble, "music_chords": _music_chords, "wind": _wind}
