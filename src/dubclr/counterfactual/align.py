"""Align a synthesized segment to its source segment's duration (stage 'align').

The stretch factor is bounded (default [0.5, 2.0]): a synthesis that would need more is
stretched to the bound and then padded with silence (too short) or trimmed (too long), and the
segment is flagged in the manifest.
"""

from __future__ import annotations

import numpy as np

from dubclr.counterfactual.audio import fade, fit_length, trim_silence
from dubclr.counterfactual.config import AlignConfig
from dubclr.counterfactual.stretch import wsola_stretch


def align_segment(samples: np.ndarray, rate: int, target_len: int,
                  cfg: AlignConfig) -> tuple[np.ndarray, dict]:
    """Stretch ``samples`` to ``target_len`` samples; returns the audio and what was done."""
    speech = trim_silence(np.asarray(samples, np.float32), rate, cfg.trim_silence_db)
    if target_len <= 0 or len(speech) == 0 or not np.any(speech):
        return np.zeros(max(target_len, 0), np.float32), {
            "ratio_needed": None, "ratio_applied": None, "action": "empty", "flagged": True}
    needed = target_len / len(speech)
    applied = float(np.clip(needed, cfg.min_ratio, cfg.max_ratio))
    stretched = wsola_stretch(speech, applied, rate, cfg.frame_ms)
    if needed > cfg.max_ratio:
        action = "pad"
    elif needed < cfg.min_ratio:
        action = "trim"
    else:
        action = "stretch"
    out = fade(fit_length(stretched, target_len), rate)
    return out, {"ratio_needed": round(needed, 4), "ratio_applied": round(applied, 4),
                 "action": action, "flagged": action != "stretch"}
