"""Time stretching that keeps pitch: WSOLA (waveform-similarity overlap-add).

Frames of ``frame_ms`` are overlap-added at a fixed synthesis hop of half a frame, read from
the input at ``hop / factor``; each frame's read position is moved, within a small tolerance,
to where it best continues the previous frame (highest cross-correlation). Pitch periods are
kept whole, so the pitch stays while the duration changes by ``factor``.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import correlate


def wsola_stretch(samples: np.ndarray, factor: float, rate: int,
                  frame_ms: float = 40.0) -> np.ndarray:
    """Return ``round(len(samples) * factor)`` samples with the same pitch."""
    x = np.asarray(samples, dtype=np.float32)
    out_len = int(round(len(x) * factor))
    if out_len == 0 or len(x) == 0:
        return np.zeros(out_len, np.float32)
    if abs(factor - 1.0) < 1e-6:
        return x.copy()
    frame = max(16, int(rate * frame_ms / 1000) // 2 * 2)
    hop = frame // 2
    tol = hop // 2
    window = np.hanning(frame + 1)[:frame].astype(np.float32)  # periodic Hann sums to 1 at hop N/2
    n_frames = out_len // hop + 2
    lead = hop + tol
    last_start = lead + int(round(n_frames * hop / factor)) - hop + tol
    xp = np.concatenate([np.zeros(lead, np.float32), x,
                         np.zeros(max(0, last_start + frame - lead - len(x)) + 1, np.float32)])
    out = np.zeros(n_frames * hop + frame, np.float32)
    prev = None
    for k in range(n_frames):
        nominal = lead + int(round(k * hop / factor)) - hop
        if prev is None:
            start = nominal
        else:
            template = xp[prev + hop: prev + hop + frame]
            lo = max(0, nominal - tol)
            region = xp[lo: nominal + tol + frame]
            score = correlate(region, template, mode="valid")
            start = lo + int(np.argmax(score)) if np.any(score) else nominal
        out[k * hop: k * hop + frame] += window * xp[start: start + frame]
        prev = start
    return out[hop: hop + out_len]
