"""Remix (stage 'remix'): the dubbed segments at their source times over the background.

The result has exactly the original track's sample count and never clips: if the sum would
peak above ``peak_dbfs`` the whole mix is scaled down (speech and background alike, so their
balance is kept) and the gain is recorded.
"""

from __future__ import annotations

import numpy as np


def place_segments(parts: list[tuple[int, np.ndarray]], length: int) -> np.ndarray:
    """Sum each ``(start_sample, samples)`` into a silent track of ``length`` samples."""
    track = np.zeros(length, np.float32)
    for start, samples in parts:
        if start >= length or len(samples) == 0:
            continue
        begin = max(0, start)
        end = min(length, start + len(samples))
        track[begin:end] += samples[begin - start: end - start]
    return track


def remix(background: np.ndarray, speech: np.ndarray, peak_dbfs: float = -1.0
          ) -> tuple[np.ndarray, dict]:
    """Mix two equal-length tracks without clipping; returns the mix and its gain (dB)."""
    if len(background) != len(speech):
        raise ValueError(f"remix: background has {len(background)} samples, speech {len(speech)}")
    mix = background.astype(np.float32) + speech.astype(np.float32)
    peak = float(np.max(np.abs(mix))) if len(mix) else 0.0
    limit = 10 ** (peak_dbfs / 20)
    gain = 1.0 if peak <= limit else limit / peak
    return (mix * gain).astype(np.float32), {"mix_gain_db": round(20 * np.log10(gain), 3),
                                              "peak": round(peak * gain, 4)}
