"""Quality figures of a dubbed track, recorded in the manifest and shown in the report.

- placement error: mean |detected onset/offset - source segment start/end| (s), where the
  dub's speech is detected by frame energy around each source segment;
- loudness difference: integrated loudness of the dubbed speech minus the original speech (LU);
- speech-to-background ratio: speech power over background power inside the segments (dB),
  for the dub and for the original speech;
- speech time: seconds where the dub speaks, where the original speech (its estimate) speaks,
  and the share of the original's speaking time the dub also speaks in (coverage): a dub must
  not be silent where its source speaks;
- leakage: where the clean original speech is known (the synthetic corpus's stems), the
  amplitude of the original speech left in the dubbed track, ``20 log10(<dub, s> / <s, s>)``
  (the projection of the dub onto the original speech stem ``s``), in dB.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_closing

from dubclr.counterfactual.audio import db, frame_energy_db
from dubclr.counterfactual.master import loudness_lufs
from dubclr.counterfactual.segments import Segment


def placement_error(speech: np.ndarray, rate: int, segments: list[Segment],
                    margin_s: float = 0.5, frame_s: float = 0.01) -> float | None:
    errors = []
    for seg in segments:
        lo = max(0, int((seg.start - margin_s) * rate))
        hi = min(len(speech), int((seg.end + margin_s) * rate))
        levels = frame_energy_db(speech[lo:hi], rate, frame_s)
        if levels.max() < -80:
            continue
        active = np.flatnonzero(levels > levels.max() - 30.0)
        onset = lo / rate + active[0] * frame_s
        offset = lo / rate + (active[-1] + 1) * frame_s
        errors += [abs(onset - seg.start), abs(offset - seg.end)]
    return round(float(np.mean(errors)), 4) if errors else None


def _power_in(samples: np.ndarray, rate: int, segments: list[Segment]) -> float:
    picks = [samples[int(s.start * rate): int(s.end * rate)] for s in segments]
    picks = [p for p in picks if len(p)]
    if not picks:
        return 0.0
    joined = np.concatenate(picks).astype(np.float64)
    return float(np.mean(joined * joined))


def speech_to_background_db(speech: np.ndarray, background: np.ndarray, rate: int,
                            segments: list[Segment]) -> float | None:
    ps, pb = _power_in(speech, rate, segments), _power_in(background, rate, segments)
    if ps == 0.0:
        return None
    return round(db(ps / max(pb, 1e-12)), 2)


ACTIVITY_FRAME_S = 0.02


def speech_activity(samples: np.ndarray, rate: int, below_peak_db: float = 35.0,
                    floor_db: float = -60.0, bridge_s: float = 0.3) -> np.ndarray:
    """Per 20 ms frame: is this speech-only signal speaking? Frames within ``below_peak_db`` of
    its loud frames (99th percentile) and above ``floor_db`` dBFS, with pauses shorter than
    ``bridge_s`` bridged (a line's word gaps count as speaking time)."""
    levels = frame_energy_db(samples, rate, ACTIVITY_FRAME_S)
    active = levels > max(floor_db, float(np.percentile(levels, 99)) - below_peak_db)
    width = max(1, int(round(bridge_s / ACTIVITY_FRAME_S)))
    padded = np.pad(active, width)  # closing must not invent speech at the edges
    return binary_closing(padded, structure=np.ones(width, bool))[width:-width] | active


def speech_time(dub_speech: np.ndarray, original_speech: np.ndarray, rate: int) -> dict:
    dub, orig = speech_activity(dub_speech, rate), speech_activity(original_speech, rate)
    n = min(len(dub), len(orig))
    dub, orig = dub[:n], orig[:n]
    return {"dub_speech_s": round(float(dub.sum()) * ACTIVITY_FRAME_S, 2),
            "original_speech_s": round(float(orig.sum()) * ACTIVITY_FRAME_S, 2),
            "speech_coverage": round(float((dub & orig).sum() / orig.sum()), 3) if orig.any() else None}


def leakage_db(track: np.ndarray, reference_speech: np.ndarray) -> float | None:
    """Amplitude of ``reference_speech`` left in ``track`` (dB re. the reference itself), by
    projection; both at one rate and aligned. None when the reference is silent."""
    n = min(len(track), len(reference_speech))
    s = reference_speech[:n].astype(np.float64)
    energy = float(s @ s)
    if energy < 1e-9:
        return None
    alpha = abs(float(track[:n].astype(np.float64) @ s)) / energy
    return round(20 * np.log10(max(alpha, 1e-6)), 2)


def track_figures(dub_speech: np.ndarray, original_speech: np.ndarray, background: np.ndarray,
                  rate: int, segments: list[Segment]) -> dict:
    dub_lufs, orig_lufs = loudness_lufs(dub_speech, rate), loudness_lufs(original_speech, rate)
    return {**speech_time(dub_speech, original_speech, rate),
        "placement_error_s": placement_error(dub_speech, rate, segments),
        "loudness_diff_lu": None if dub_lufs is None or orig_lufs is None
        else round(dub_lufs - orig_lufs, 2),
        "sbr_db": speech_to_background_db(dub_speech, background, rate, segments),
        "sbr_original_db": speech_to_background_db(original_speech, background, rate, segments),
    }
