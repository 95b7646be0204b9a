"""Quality figures of a dubbed track, recorded in the manifest and shown in the report.

- placement error: mean |detected onset/offset - source segment start/end| (s), where the
  dub's speech is detected by frame energy around each source segment;
- loudness difference: integrated loudness of the dubbed speech minus the original speech (LU);
- speech-to-background ratio: speech power over background power inside the segments (dB),
  for the dub and for the original speech.
"""

from __future__ import annotations

import numpy as np

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


def track_figures(dub_speech: np.ndarray, original_speech: np.ndarray, background: np.ndarray,
                  rate: int, segments: list[Segment]) -> dict:
    dub_lufs, orig_lufs = loudness_lufs(dub_speech, rate), loudness_lufs(original_speech, rate)
    return {
        "placement_error_s": placement_error(dub_speech, rate, segments),
        "loudness_diff_lu": None if dub_lufs is None or orig_lufs is None
        else round(dub_lufs - orig_lufs, 2),
        "sbr_db": speech_to_background_db(dub_speech, background, rate, segments),
        "sbr_original_db": speech_to_background_db(original_speech, background, rate, segments),
    }
