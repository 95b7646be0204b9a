"""Speech regions (voice activity) and the spectral gate behind the offline 'vad-gate' separator.

``silero`` uses the model files the silero-vad package ships (TorchScript, run on numpy input, so
no torchaudio); ``energy`` is a plain frame-energy detector with hysteresis for when that package
is missing. The gate is a lower-quality stand-in for Demucs: it learns the background's spectrum
where nobody speaks and, inside speech regions, gives the background each bin's Wiener share
(background power over bin power), the rest to speech.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import istft, stft

from dubclr.counterfactual.audio import frame_energy_db
from dubclr.errors import BackendUnavailableError
from dubclr.media import resample


def require_silero() -> None:
    try:
        import silero_vad  # noqa: F401
    except ImportError:
        raise BackendUnavailableError(
            "separate.vad 'silero' needs the silero-vad package (its model files ship inside it): "
            "pip install silero-vad; or set separate.vad=energy") from None


def speech_regions(samples: np.ndarray, rate: int, method: str = "silero") -> list[tuple[float, float]]:
    """(start, end) seconds of speech."""
    if method == "silero":
        return _silero_regions(samples, rate)
    return energy_regions(samples, rate)


@functools.lru_cache(maxsize=1)
def _silero_model():
    from silero_vad import load_silero_vad

    with warnings.catch_warnings():  # the package's own TorchScript file; its loader warns
        warnings.simplefilter("ignore", DeprecationWarning)
        return load_silero_vad()


def _silero_regions(samples: np.ndarray, rate: int) -> list[tuple[float, float]]:
    require_silero()
    import torch
    from silero_vad import get_speech_timestamps

    model = _silero_model()
    audio = torch.from_numpy(resample(samples, rate, 16000).copy())
    with torch.inference_mode():
        found = get_speech_timestamps(audio, model, sampling_rate=16000, return_seconds=True)
    return [(float(r["start"]), float(r["end"])) for r in found]


def energy_regions(samples: np.ndarray, rate: int, frame_s: float = 0.02,
                   min_speech_s: float = 0.2, min_gap_s: float = 0.3,
                   pad_s: float = 0.1) -> list[tuple[float, float]]:
    """Frames above an adaptive threshold (noise floor + 10 dB, hysteresis 4 dB), merged."""
    levels = frame_energy_db(samples, rate, frame_s)
    floor = np.percentile(levels, 10)
    high = max(floor + 10.0, levels.max() - 40.0)
    low = high - 4.0
    active = np.zeros(len(levels), bool)
    on = False
    for i, level in enumerate(levels):
        on = level > (low if on else high)
        active[i] = on
    regions = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        start, end = a * frame_s, b * frame_s
        if regions and start - regions[-1][1] < min_gap_s:
            regions[-1] = (regions[-1][0], end)
        else:
            regions.append((start, end))
    total = len(samples) / rate
    return [(max(0.0, s - pad_s), min(total, e + pad_s)) for s, e in regions if e - s >= min_speech_s]


def gate_separate(mixture: np.ndarray, rate: int, regions: list[tuple[float, float]],
                  threshold_db: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``mixture`` into (speech, background) with a spectral gate; they sum to the mixture."""
    nper = 1024 if rate >= 32000 else 512
    _, _, spec = stft(mixture, fs=rate, nperseg=nper, noverlap=nper * 3 // 4, boundary="even")
    times = np.arange(spec.shape[1]) * (nper // 4) / rate
    in_speech = np.zeros(spec.shape[1], bool)
    for start, end in regions:
        in_speech |= (times >= start) & (times <= end)
    mag = np.abs(spec)
    quiet = mag[:, ~in_speech] if (~in_speech).sum() >= 4 else mag
    profile = np.percentile(quiet, 60, axis=1, keepdims=True) * 10 ** (threshold_db / 20)
    # Wiener gain of the background: its (profile) power over the bin's power. The amplitude
    # ratio kept the original speech in the background (and so in every dub) at about -18 dB
    # on the synthetic corpus, -10 dB on its worst title; the power ratio halves that in dB.
    bg_mask = np.minimum(1.0, (profile / np.maximum(mag, 1e-9)) ** 2)
    soft_speech = uniform_filter1d(in_speech.astype(float), size=5)  # ease region edges
    bg_mask = 1.0 - soft_speech[None, :] * (1.0 - bg_mask)
    _, background = istft(spec * bg_mask, fs=rate, nperseg=nper, noverlap=nper * 3 // 4)
    background = background[: len(mixture)].astype(np.float32)
    background = np.pad(background, (0, len(mixture) - len(background)))
    return (mixture - background).astype(np.float32), background
