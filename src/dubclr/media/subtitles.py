"""SubRip (SRT) writing, shared by the synthetic corpus and the counterfactual pipeline."""

from __future__ import annotations

from collections.abc import Iterable


def srt_timestamp(seconds: float) -> str:
    """``3723.5`` -> ``'01:02:03,500'``."""
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def format_srt(cues: Iterable[tuple[float, float, str]]) -> str:
    """Numbered SRT blocks from ``(start, end, text)`` cues, in the order given."""
    return "".join(f"{i}\n{srt_timestamp(start)} --> {srt_timestamp(end)}\n{text}\n\n"
                   for i, (start, end, text) in enumerate(cues, 1))
