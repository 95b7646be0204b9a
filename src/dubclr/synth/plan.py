"""What a title holds before anything is rendered: its cast, shots, looks and dialogue.

A world (`toy`, the default, or `study`, see `study_world.py`) draws a `TitlePlan` from the
title's random generator; `corpus.py` renders and writes any plan the same way. The toy
world's draws are in the order v0.1 used, so a toy corpus is unchanged for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dubclr.synth.dialogue import Line, Speaker, draw_speakers, place_lines
from dubclr.synth.scenes import SCENE_CLASSES, FaceLayout, ShotLook, draw_look
from dubclr.synth.sounds import SCENE_SOUNDS


@dataclass
class TitlePlan:
    speakers: list[Speaker]  # the characters, with their original voices
    shots: list[dict]  # index, start/end (frames and seconds), scene, sound, speakers_idx
    looks: list[ShotLook]  # one per shot
    lines: list[Line]
    face_colours: list[tuple[float, float, float]] | None = None  # per speaker; None: default
    speaker_labels: list[dict] = field(default_factory=list)  # extra label fields per speaker
    faces: FaceLayout = field(default_factory=FaceLayout)

    @property
    def num_frames(self) -> int:
        return self.shots[-1]["end_frame"]


def plan_toy_title(rng: np.random.Generator, opts) -> TitlePlan:
    """The toy world: 1-3 speakers, one scene per shot (never the previous one's), up to
    `max_lines_per_shot` lines per shot, every dub on the original's timing and voice."""
    speakers = draw_speakers(rng, int(rng.integers(1, 4)))
    shots, looks = plan_shots(rng, opts, len(speakers))
    shot_speakers = [[speakers[i] for i in shot["speakers_idx"]] for shot in shots]
    lines = place_lines(rng, shots, shot_speakers, opts.track_order, opts.sample_rate,
                        opts.max_lines_per_shot)
    return TitlePlan(speakers, shots, looks, lines)


def shot_lengths(rng: np.random.Generator, opts) -> list[int]:
    """Frames per shot: a count in `opts.shots`, lengths around `title_seconds / count`."""
    count = int(rng.integers(opts.shots[0], opts.shots[1] + 1))
    low, high = opts.shot_seconds
    mean = float(np.clip(opts.title_seconds / count, low, high))
    seconds = np.clip(mean * rng.uniform(0.6, 1.4, size=count), low, high)
    return [max(1, int(round(s * opts.fps))) for s in seconds]


def shot_entry(index: int, frame: int, length: int, fps: int, scene: str,
               speakers_idx: list[int]) -> dict:
    return {"index": index, "start_frame": frame, "end_frame": frame + length,
            "start": round(frame / fps, 3), "end": round((frame + length) / fps, 3),
            "scene": scene, "sound": SCENE_SOUNDS[scene], "speakers_idx": speakers_idx}


def plan_shots(rng: np.random.Generator, opts, num_speakers: int):
    """Toy shots: each a scene other than the previous shot's, and 1..all speakers."""
    shots, looks, frame, scene, look = [], [], 0, None, None
    for k, length in enumerate(shot_lengths(rng, opts)):
        choices = [s for s in SCENE_CLASSES if s != scene]
        scene = choices[int(rng.integers(len(choices)))]
        look = draw_look(rng, scene, look)
        who = sorted(int(i) for i in rng.choice(num_speakers, int(rng.integers(1, num_speakers + 1)),
                                                replace=False))
        shots.append(shot_entry(k, frame, length, opts.fps, scene, who))
        looks.append(look)
        frame += length
    return shots, looks
