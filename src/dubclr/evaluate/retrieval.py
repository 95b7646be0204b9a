"""Cross-language retrieval: does a shot's video find its own audio among the title's shots?

For every title, each shot's video projection ranks the audio projections of all the
title's shots (cosine similarity); top-1 is correct when it picks the same shot. Done
once with the original-language audio and once with each dub, so the gap between the two
shows whether the model ties picture to sound regardless of the language spoken, which is
what dub augmentation should teach. Chance is 1 / shots per title.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dubclr.evaluate.shots import Shot, ShotEmbeddings


def top1_accuracy(video: np.ndarray, audio: np.ndarray) -> float:
    """Row i of ``video`` should be most similar to row i of ``audio``."""
    v = video / (np.linalg.norm(video, axis=1, keepdims=True) + 1e-12)
    a = audio / (np.linalg.norm(audio, axis=1, keepdims=True) + 1e-12)
    sims = v @ a.T
    return float(np.mean(np.argmax(sims, axis=1) == np.arange(len(v))))


def cross_language_retrieval(shots: list[Shot], emb: ShotEmbeddings) -> dict | None:
    """Per-title top-1 for the original audio and for dubs; None without projection heads."""
    if not emb.video_proj or not emb.audio_proj:
        return None
    by_title: dict[str, list[Shot]] = defaultdict(list)
    for s in shots:
        by_title[s.title].append(s)
    original, dubbed, chance = [], [], []
    for title_shots in by_title.values():
        if len(title_shots) < 2:
            continue  # nothing to confuse it with
        video = np.stack([emb.video_proj[s.key] for s in title_shots])
        first = title_shots[0]
        if first.original_language not in first.languages:
            continue
        chance.append(1.0 / len(title_shots))
        original.append(top1_accuracy(video, _audio(emb, title_shots, first.original_language)))
        dubs = [lang for lang in first.languages if lang != first.original_language]
        if dubs:
            dubbed.append(float(np.mean([top1_accuracy(video, _audio(emb, title_shots, lang))
                                         for lang in dubs])))
    if not original:
        return None
    return {
        "original": _summary(original), "dub": _summary(dubbed) if dubbed else None,
        "chance": float(np.mean(chance)), "titles": len(original),
    }


def _audio(emb: ShotEmbeddings, shots: list[Shot], lang: str) -> np.ndarray:
    return np.stack([emb.audio_proj[f"{s.key}#{lang}"] for s in shots])


def _summary(values: list[float]) -> dict:
    arr = np.asarray(values)
    return {"mean": float(arr.mean()), "std": float(arr.std()), "per_title": values}
