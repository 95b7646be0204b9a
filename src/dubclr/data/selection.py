"""Selection: the subset of catalog shots a run trains on (the paper's Table 1 subsets)."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict

from dubclr.data.catalog import ShotRecord
from dubclr.data.config import SelectionConfig
from dubclr.media import normalize_language

log = logging.getLogger("dubclr.data")


def select_shots(shots: list[ShotRecord], cfg: SelectionConfig, *,
                 separated_only: bool = False) -> list[ShotRecord]:
    """Shots of the titles that pass every filter, cut to the clip budget.

    ``separated_only`` (the ``separated`` dub policy) keeps titles with a speech-removed
    track, like ``require_separated``, and of them the shots that track has audio over (a_p
    comes from it). Every filter runs before the budget, so the budget
    counts usable shots. The budget keeps whole titles in a fixed pseudo-random order (a
    hash of the title name) and truncates the last one, so a smaller budget is a subset of
    a larger one.
    """
    wanted_originals = {normalize_language(x) for x in cfg.original_languages}
    required = {normalize_language(x) for x in cfg.languages_required}
    by_title: dict[int, list[ShotRecord]] = defaultdict(list)
    without_separated = 0
    for shot in shots:
        if separated_only and not shot.has_audio("separated", shot.start, shot.end):
            without_separated += 1
            continue
        by_title[shot.title_id].append(shot)
    kept: list[list[ShotRecord]] = []
    for title_shots in by_title.values():
        first = title_shots[0]
        if wanted_originals and first.original_language not in wanted_originals:
            continue
        if len(first.languages) < cfg.min_tracks:
            continue
        if not required <= set(first.languages):
            continue
        if cfg.require_separated and first.separated is None:
            continue
        if len(title_shots) < cfg.min_shots_per_title:
            continue
        kept.append(title_shots)
    if separated_only and without_separated:
        log.warning("dub policy 'separated': %d shots have no speech-removed audio over them "
                    "and are left out", without_separated)
    if cfg.max_clips is not None:
        kept.sort(key=lambda group: _stable_hash(group[0].title))
        budgeted, total = [], 0
        for group in kept:
            if total >= cfg.max_clips:
                break
            budgeted.append(group[: cfg.max_clips - total])
            total += len(budgeted[-1])
        kept = budgeted
    kept.sort(key=lambda group: (group[0].title, group[0].title_id))
    return [shot for group in kept for shot in group]


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")
