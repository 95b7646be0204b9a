"""Voice matching (stage 'voice'): move the synthetic voice toward the original speaker.

``praat`` measures the pitch median and the formant frequencies (F1-F3 medians) of the original
speaker's segment and of the synthetic one, then runs Praat's "Change gender" with the target
pitch median and the formant ratio (clamped). ``lvc`` hands the pair to an LVC-VC checkout.
"""

from __future__ import annotations

import numpy as np

from dubclr.counterfactual.audio import fit_length
from dubclr.counterfactual.config import VoiceConfig

_PITCH_FLOOR, _PITCH_CEILING = 60.0, 500.0


def _sound(samples: np.ndarray, rate: int):
    import parselmouth

    return parselmouth.Sound(np.asarray(samples, np.float64), sampling_frequency=float(rate))


def pitch_median(samples: np.ndarray, rate: int) -> float | None:
    """Median F0 (Hz) over voiced frames, or None when nothing is voiced."""
    from parselmouth.praat import call

    if len(samples) < int(0.1 * rate):
        return None
    pitch = call(_sound(samples, rate), "To Pitch", 0.0, _PITCH_FLOOR, _PITCH_CEILING)
    f0 = pitch.selected_array["frequency"]
    f0 = f0[f0 > 0]
    return float(np.median(f0)) if len(f0) >= 3 else None


def formant_medians(samples: np.ndarray, rate: int) -> np.ndarray | None:
    """Median F1, F2, F3 (Hz) over the segment (Praat's formant quantile)."""
    from parselmouth.praat import call

    if len(samples) < int(0.1 * rate):
        return None
    formant = call(_sound(samples, rate), "To Formant (burg)", 0.0, 5, 5500.0, 0.025, 50.0)
    values = [call(formant, "Get quantile", n, 0.0, 0.0, "hertz", 0.5) for n in (1, 2, 3)]
    return np.array(values) if all(np.isfinite(values)) and min(values) > 0 else None


def praat_match(synth: np.ndarray, reference: np.ndarray, rate: int,
                cfg: VoiceConfig) -> tuple[np.ndarray, dict]:
    """Shift ``synth``'s pitch median and formants toward ``reference``; length is kept."""
    from parselmouth.praat import call

    f0_syn, f0_ref = pitch_median(synth, rate), pitch_median(reference, rate)
    fm_syn, fm_ref = formant_medians(synth, rate), formant_medians(reference, rate)
    if f0_syn is None or f0_ref is None:
        return synth, {"voice": "unchanged", "reason": "no voiced frames to measure"}
    ratio = 1.0
    if fm_syn is not None and fm_ref is not None:
        ratio = float(np.exp(np.mean(np.log(fm_ref / fm_syn))))
        ratio = float(np.clip(ratio, 1 / cfg.max_formant_shift, cfg.max_formant_shift))
    changed = call(_sound(synth, rate), "Change gender", _PITCH_FLOOR, _PITCH_CEILING,
                   ratio, f0_ref, 1.0, 1.0)
    out = fit_length(changed.values[0].astype(np.float32), len(synth))
    after = pitch_median(out, rate)
    return out, {"voice": "praat", "f0_source": round(f0_ref, 1), "f0_synth": round(f0_syn, 1),
                 "f0_after": None if after is None else round(after, 1),
                 "formant_ratio": round(ratio, 3)}
