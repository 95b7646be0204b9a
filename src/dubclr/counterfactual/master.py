"""Mastering (stage 'master'): loudness-match each segment to the original speech and EQ-match it.

Loudness is ITU-R BS.1770 (pyloudnorm), with a shorter gating block for segments under 0.4 s.
The EQ match compares the two long-term spectra in third-octave bands and applies the
(clamped) difference as a linear-phase FIR; matchering can do this instead for segments long
enough for it (``master.eq=matchering``).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve, firwin2, welch

from dubclr.counterfactual.audio import rms
from dubclr.counterfactual.config import MasterConfig


def loudness_lufs(samples: np.ndarray, rate: int) -> float | None:
    """Integrated loudness (LUFS), or None when the signal is silent or too short."""
    import pyloudnorm

    if len(samples) < int(0.05 * rate) or rms(samples) < 1e-6:
        return None
    block = min(0.4, len(samples) / rate)
    with np.errstate(divide="ignore"):
        value = pyloudnorm.Meter(rate, block_size=block).integrated_loudness(
            np.asarray(samples, np.float64))
    return float(value) if np.isfinite(value) else None


def _band_levels(samples: np.ndarray, rate: int, centres: np.ndarray) -> np.ndarray:
    freqs, power = welch(samples, fs=rate, nperseg=min(2048, len(samples)))
    levels = np.empty(len(centres))
    for i, fc in enumerate(centres):
        band = (freqs >= fc / 2 ** (1 / 6)) & (freqs < fc * 2 ** (1 / 6))
        levels[i] = power[band].mean() if band.any() else np.nan
    return levels


def envelope_eq(samples: np.ndarray, reference: np.ndarray, rate: int,
                max_gain_db: float = 12.0) -> tuple[np.ndarray, float]:
    """Filter ``samples`` so its third-octave spectrum follows ``reference``'s; returns the
    audio and the largest band gain applied (dB)."""
    if len(samples) < 256 or len(reference) < 256 or rms(reference) < 1e-6 or rms(samples) < 1e-6:
        return samples, 0.0
    centres = 1000.0 * 2.0 ** (np.arange(-15, 14) / 3)  # 31 Hz .. 20 kHz
    centres = centres[centres < 0.45 * rate]
    have, want = _band_levels(samples, rate, centres), _band_levels(reference, rate, centres)
    ok = np.isfinite(have) & np.isfinite(want) & (have > 0) & (want > 0)
    ok &= (have > np.nanmax(have) * 1e-6) & (want > np.nanmax(want) * 1e-6)  # bands with content
    if ok.sum() < 3:
        return samples, 0.0
    gain_db = 10 * np.log10(want[ok] / have[ok])
    gain_db = np.clip(gain_db - np.median(gain_db), -max_gain_db, max_gain_db)  # shape only
    nyq = rate / 2
    freq = np.concatenate([[0.0], centres[ok] / nyq, [1.0]])
    gain = 10 ** (np.concatenate([[gain_db[0]], gain_db, [gain_db[-1]]]) / 20)
    taps = firwin2(511, freq, gain)
    out = fftconvolve(samples, taps, mode="same").astype(np.float32)
    return out, float(np.max(np.abs(gain_db)))


def match_loudness(samples: np.ndarray, reference: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
    """Scale ``samples`` to ``reference``'s loudness; returns the audio and the gain (dB)."""
    have, want = loudness_lufs(samples, rate), loudness_lufs(reference, rate)
    if have is None or want is None:
        return samples, 0.0
    gain_db = float(np.clip(want - have, -40.0, 40.0))
    return (samples * 10 ** (gain_db / 20)).astype(np.float32), gain_db


def master_segment(samples: np.ndarray, reference: np.ndarray, rate: int,
                   cfg: MasterConfig) -> tuple[np.ndarray, dict]:
    info: dict = {"eq": cfg.eq}
    out = samples
    if cfg.eq == "matchering" and len(samples) >= cfg.matchering_min_seconds * rate:
        from dubclr.counterfactual.backends.matchering_eq import matchering_match

        out = matchering_match(out, reference, rate)
    elif cfg.eq != "none":
        out, info["eq_max_gain_db"] = envelope_eq(out, reference, rate, cfg.max_eq_gain_db)
        info["eq"] = "envelope"
    if cfg.loudness:
        out, info["gain_db"] = match_loudness(out, reference, rate)
        after, want = loudness_lufs(out, rate), loudness_lufs(reference, rate)
        if after is not None and want is not None:
            info["loudness_diff_lu"] = round(after - want, 2)
    return out, info
