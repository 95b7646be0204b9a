"""The controlled study's downstream tasks, on held-out titles of the study world.

Every label comes from the corpus's `labels.json`, never from a model. Two kinds of clips
(at most 3 s, embedded by `shots.embed_shots` like the toy benchmark's):

- shot windows, the first 3 s of each shot: sound class, scene, audiovisual, speaker count
  (distinct voices heard in the window) and video -> audio retrieval among the title's shots,
  with the original and with the dubbed tracks;
- line windows, one per line of dialogue, from 0.1 s before its earliest onset in any
  language to the next line's or the shot's end: language ID (every track) and keyword
  (which of the world's phrases the original says; the analogue of Speech Commands).

Probes are the toy benchmark's (`toy_bench.run_task`) on title folds, so no held-out title
is in both a probe's training and test data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from dubclr.evaluate.encoder import load_encoder
from dubclr.evaluate.probes import ProbeConfig
from dubclr.evaluate.retrieval import cross_language_retrieval
from dubclr.evaluate.shots import ClipInputs, Shot, ShotEmbeddings, embed_shots, read_corpus
from dubclr.evaluate.toy_bench import TASKS, ToyTask, run_task, task_rows, title_folds

CLIP_SECONDS = 3.0
HEARD_SECONDS = 0.25  # a voice counts as heard in a window when this much of its line is in it
LINE_LEAD = 0.1  # a line window starts this long before the line's earliest onset
LINE_INDEX = 1000  # line windows are keyed title/1000+k, apart from shots' title/index

_TOY = {t.name: t for t in TASKS}
STUDY_TASKS = (_TOY["sound"], _TOY["scene"], _TOY["audiovisual"], _TOY["speakers"],
               _TOY["language"], ToyTask("keyword", "SemSp", "A", "Speech Commands", "mlp"))
LINE_TASKS = ("language", "keyword")  # probed on line windows; the others on shot windows

# Cheaper than the HEAR grid (one depth, one rate, one probe seed: the spread that matters
# is across pretraining seeds), the same recipe otherwise.
STUDY_PROBE = ProbeConfig(hidden_layers=(1,), hidden_dim=256, learning_rates=(1e-3,),
                          max_epochs=100, patience=10, seeds=(0,), sgd_epochs=100)


class StudyClips:
    """Shot windows and line windows of a study corpus, with the labels only they need."""

    def __init__(self, corpus_dir: str | Path) -> None:
        labels, shots = read_corpus(corpus_dir)
        if labels.get("world", {}).get("name") != "study":
            from dubclr.errors import DubclrError

            raise DubclrError(f"{corpus_dir} is not a study-world corpus (labels.json has no "
                              "world 'study'); build one with `dubclr synth corpus OUT "
                              "--world study`")
        titles = {t["id"]: t for t in labels["titles"]}
        self.shots: list[Shot] = []
        self.lines: list[Shot] = []
        self.phrase: dict[str, int] = {}  # line window key -> phrase index
        self.inputs = ClipInputs()  # decoded once, for every checkpoint evaluated here
        for shot in shots:
            window_end = min(shot.end, shot.start + CLIP_SECONDS)
            heard = voices_heard(titles[shot.title]["dialogue"], shot.index, shot.start,
                                 window_end, shot.original_language)
            self.shots.append(replace(shot, n_speakers=heard))
        by_shot = {(s.title, s.index): s for s in shots}
        for title in labels["titles"]:
            for k, window in enumerate(line_windows(title)):
                shot = by_shot[(title["id"], window["shot"])]
                clip = replace(shot, index=LINE_INDEX + k, start=window["start"],
                               end=window["end"], n_speakers=1)
                self.lines.append(clip)
                self.phrase[clip.key] = window["phrase"]

    def folds(self) -> tuple[dict[str, int], bool]:
        return title_folds(self.shots)

    def rows(self, task: ToyTask, emb: ShotEmbeddings,
             folds: dict[str, int]) -> tuple[list[dict], dict[str, np.ndarray]]:
        if task.name == "keyword":
            return self._keyword_rows(emb, folds)
        clips = self.lines if task.name in LINE_TASKS else self.shots
        return task_rows(task, clips, emb, folds)

    def _keyword_rows(self, emb: ShotEmbeddings, folds: dict[str, int]):
        rows, feats = [], {}
        for clip in self.lines:
            key = f"{clip.key}#{clip.original_language}"
            if key in emb.audio:
                rows.append({"file": key, "label": f"phrase{self.phrase[clip.key]:02d}",
                             "fold": folds[clip.title]})
                feats[key] = emb.audio[key]
        return rows, feats


def voices_heard(dialogue: list[dict], shot: int, start: float, end: float,
                 language: str) -> int:
    """Distinct speakers whose line in `language` overlaps [start, end) by HEARD_SECONDS."""
    heard = set()
    for line in dialogue:
        if line["shot"] != shot:
            continue
        a, b = line["segments"][language]
        if min(b, end) - max(a, start) >= HEARD_SECONDS:
            heard.add(line["speaker"])
    return len(heard)


def line_windows(title: dict) -> list[dict]:
    """One window per line: start, end, shot and phrase (see the module docstring)."""
    by_shot = defaultdict(list)
    for line in title["dialogue"]:
        by_shot[line["shot"]].append(line)
    out = []
    for shot in title["shots"]:
        lines = sorted(by_shot[shot["index"]], key=lambda x: min(s[0] for s in x["segments"].values()))
        for i, line in enumerate(lines):
            onset = min(s[0] for s in line["segments"].values())
            start = max(shot["start"], onset - LINE_LEAD)
            stop = min(shot["end"], start + CLIP_SECONDS)
            if i + 1 < len(lines):
                stop = min(stop, min(s[0] for s in lines[i + 1]["segments"].values()) - 0.05)
            out.append({"shot": shot["index"], "start": round(start, 3), "end": round(stop, 3),
                        "phrase": int(line["phrase"])})
    return out


def evaluate_study_checkpoint(checkpoint: str | Path, clips: StudyClips,
                              probe_cfg: ProbeConfig = STUDY_PROBE, device: str = "cpu") -> dict:
    """Every study task and retrieval for one checkpoint."""
    encoder = load_encoder(checkpoint, device=device)
    emb = embed_shots(encoder, clips.shots + clips.lines, desc=f"embed {Path(checkpoint).name}",
                      inputs=clips.inputs)
    folds, held_out = clips.folds()
    tasks = {}
    for task in STUDY_TASKS:
        rows, feats = clips.rows(task, emb, folds)
        tasks[task.name] = run_task(task, rows, feats, probe_cfg)
    return {"held_out_titles": held_out, "tasks": tasks,
            "retrieval": cross_language_retrieval(clips.shots, emb),
            "clips": {"shot_windows": len(clips.shots), "line_windows": len(clips.lines)}}
