"""Small audio helpers shared by the stages: WAV files, resampling, levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import wavfile

from dubclr.media.errors import CorruptMediaError


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the rate of a WAV file (int PCM is scaled to [-1, 1])."""
    try:
        rate, data = wavfile.read(str(path))
    except (OSError, ValueError) as exc:
        raise CorruptMediaError(f"{path}: cannot read as WAV ({exc}); re-create the file") from None
    if data.dtype.kind in "iu":
        info = np.iinfo(data.dtype)
        data = (data.astype(np.float64) - (info.max + info.min + 1) / 2) / (info.max + 1)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1)
    return data, int(rate)


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> Path:
    """Float32 WAV; the cache keeps intermediate audio lossless."""
    path = Path(path)
    wavfile.write(str(path), int(rate), np.asarray(samples, dtype=np.float32))
    return path


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad to exactly ``length`` samples."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def db(power_ratio: float) -> float:
    return float(10 * np.log10(max(power_ratio, 1e-12)))


def frame_energy_db(samples: np.ndarray, rate: int, frame_s: float = 0.02) -> np.ndarray:
    """Per-frame RMS level in dBFS (non-overlapping frames)."""
    hop = max(1, int(round(frame_s * rate)))
    n = len(samples) // hop
    if n == 0:
        return np.full(1, -120.0)
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    return 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)


def trim_silence(samples: np.ndarray, rate: int, threshold_db: float) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``threshold_db`` below the peak frame."""
    levels = frame_energy_db(samples, rate, 0.01)
    loud = np.flatnonzero(levels > levels.max() + threshold_db)
    if len(loud) == 0:
        return samples
    hop = max(1, int(round(0.01 * rate)))
    return samples[loud[0] * hop: min(len(samples), (loud[-1] + 1) * hop)]


def fade(samples: np.ndarray, rate: int, seconds: float = 0.005) -> np.ndarray:
    """Short raised-cosine fade in and out, so cut segments do not click."""
    n = min(len(samples) // 2, int(seconds * rate))
    if n <= 0:
        return samples
    out = samples.copy()
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n, dtype=np.float32))
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out
