"""The study world (`dubclr synth corpus OUT --world study`): the premise of the paper's
controlled study, built so that cause and effect are known. docs/study.md ("The world")
writes the generative model down as a table; in short:

- a corpus-wide pool of `ACTORS`, each with a face colour and an original voice (espeak-ng
  variant, pitch, rate and a timbre: one formant region boosted, so that a voice is as easy to
  tell apart as a face): in the original track an actor always sounds like themself (the
  face <-> voice link of films);
- a title casts 2-4 actors and has 2-3 locations (scene classes) that its shots revisit, so
  shots that look alike carry different conversations ("looking similar, sounding
  different");
- a shot is a close-up of one of the cast talking with another, off screen (shot / reverse
  shot): 1..`max_lines_per_shot` lines, the first by the character on screen, then taking
  turns; each phrase drawn uniformly from `KEYWORDS`, each onset drawn uniformly: the words,
  voices and timing depend on nothing the scene or sound labels name;
- dubs replace only the speech: per language, each character is re-voiced by a dub voice
  drawn independently of the actor, and each line's onset moves by up to
  `DUB_ONSET_JITTER` seconds (its length differs anyway: another language). The music and
  effects bed is the same samples in every track;
- the picture follows the original speech: the mouth opens with the original line's envelope.

So a model trained on originals alone can tie the picture to the speech (faces to voices,
mouths to speech timing); a dub breaks both ties and leaves only the bed <-> location one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dubclr.synth.dialogue import TIMBRE_HZ, Line, Speaker, spoken
from dubclr.synth.phrasebook import PHRASES
from dubclr.synth.plan import TitlePlan, shot_entry, shot_lengths
from dubclr.synth.scenes import SCENE_CLASSES, FaceLayout, draw_look
from dubclr.synth.tts import VARIANTS

DUB_ONSET_JITTER = 0.4  # seconds a dubbed line may start before or after the original
CAST_SIZE = (2, 4)  # actors per title, inclusive
LOCATIONS = (2, 3)  # locations (scene classes) per title, inclusive

# The phrases of the study world: short and about nothing a scene or sound label names.
KEYWORD_TEXTS = ("Look!", "Yes, of course.", "No, not today.", "Where are you going?",
                 "Wait for me here.", "Thank you very much.", "Be careful!", "What time is it?")
KEYWORDS = tuple(next(i for i, p in enumerate(PHRASES) if p["en"] == text)
                 for text in KEYWORD_TEXTS)

# Defaults of a study corpus where `CorpusOptions` has its own (CLI and harness use these).
STUDY_DEFAULTS = {"shots": (8, 10), "shot_seconds": (3.0, 5.0), "title_seconds": 40.0,
                  "size": (96, 72), "max_lines_per_shot": 2}
# Dialogue is shot in close-ups: one big face in the middle of a 4:3 frame, so a 64 px crop of
# the picture keeps it.
CLOSE_UP = FaceLayout(radius=0.3, span=1.0)


@dataclass(frozen=True)
class Actor:
    face: tuple[float, float, float]  # RGB 0-1
    voice: Speaker  # the actor's own voice (espeak-ng variant, pitch, rate)


ACTORS = tuple(
    Actor(face, Speaker(id=f"actor{i}", variant=variant, pitch=pitch, rate=rate, timbre=i))
    for i, (face, variant, pitch, rate) in enumerate((
        ((0.95, 0.78, 0.62), VARIANTS[0], 30, 160),
        ((0.62, 0.42, 0.28), VARIANTS[1], 70, 175),
        ((0.85, 0.62, 0.78), VARIANTS[2], 45, 150),
        ((0.55, 0.75, 0.95), VARIANTS[3], 60, 185),
        ((0.72, 0.90, 0.50), VARIANTS[4], 35, 170),
        ((0.98, 0.92, 0.40), VARIANTS[5], 55, 155),
    )))


def plan_study_title(rng: np.random.Generator, opts) -> TitlePlan:
    """Draw one title of the study world (module docstring) from its generator."""
    cast = sorted(int(a) for a in rng.choice(len(ACTORS), int(rng.integers(CAST_SIZE[0],
                                                                           CAST_SIZE[1] + 1)),
                                             replace=False))
    speakers = [replace(ACTORS[a].voice, id=f"s{i}") for i, a in enumerate(cast)]
    dubs = opts.track_order[1:]
    dub_voices = {lang: [draw_dub_voice(rng, s.id) for s in speakers] for lang in dubs}
    scenes = [str(s) for s in rng.choice(SCENE_CLASSES, int(rng.integers(LOCATIONS[0],
                                                                         LOCATIONS[1] + 1)),
                                         replace=False)]
    place_looks = [draw_look(rng, scene, None) for scene in scenes]
    shots, looks, frame, where = [], [], 0, None
    for k, length in enumerate(shot_lengths(rng, opts)):
        others = [i for i in range(len(scenes)) if i != where]
        where = others[int(rng.integers(len(others)))]
        on_screen, partner = (int(i) for i in rng.choice(len(cast), 2, replace=False))
        shot = shot_entry(k, frame, length, opts.fps, scenes[where], [on_screen])
        shot["location"], shot["partner"] = where, partner
        shots.append(shot)
        looks.append(replace(place_looks[where], pan=round(float(rng.uniform(-1.5, 1.5)), 2)))
        frame += length
    voices = {opts.track_order[0]: speakers, **dub_voices}
    lines = place_study_lines(rng, shots, voices, opts.track_order, opts.sample_rate,
                              opts.max_lines_per_shot)
    labels = [{"actor": a, "dub_voices": {lang: _voice_label(dub_voices[lang][i])
                                          for lang in dubs}}
              for i, a in enumerate(cast)]
    return TitlePlan(speakers, shots, looks, lines, [ACTORS[a].face for a in cast], labels,
                     CLOSE_UP)


def draw_dub_voice(rng: np.random.Generator, character: str) -> Speaker:
    """A dub actor for one character: any variant, pitch, rate and timbre, whoever plays it."""
    return Speaker(id=character, variant=VARIANTS[int(rng.integers(len(VARIANTS)))],
                   pitch=int(rng.integers(25, 76)), rate=int(rng.integers(150, 186)),
                   timbre=int(rng.integers(len(TIMBRE_HZ))))


def place_study_lines(rng: np.random.Generator, shots: list[dict],
                      voices: dict[str, list[Speaker]], languages: tuple[str, ...],
                      sample_rate: int, max_lines: int) -> list[Line]:
    """1..`max_lines` lines per shot (uniform), the first by the character on screen, then
    in turns with the off-screen partner, each in its language's voice; a dubbed line starts
    within `DUB_ONSET_JITTER` s of the original, inside the shot and after that language's
    previous line."""
    original, dubs = languages[0], languages[1:]
    lines = []
    for shot in shots:
        wanted = int(rng.integers(1, max_lines + 1))
        cursor = shot["start"] + float(rng.uniform(0.25, 0.7))
        previous_end = {lang: shot["start"] for lang in dubs}
        for turn in range(wanted):
            who = shot["partner"] if turn % 2 else shot["speakers_idx"][0]
            phrase = KEYWORDS[int(rng.integers(len(KEYWORDS)))]
            audio = {lang: _speak(PHRASES[phrase][lang], lang, voices[lang][who], sample_rate)
                     for lang in languages}
            longest = max(len(a) for a in audio.values()) / sample_rate
            if cursor + longest + 0.2 > shot["end"]:
                break
            start = round(cursor, 3)
            offsets = {}
            for lang in dubs:
                seconds = len(audio[lang]) / sample_rate
                moved = start + float(rng.uniform(-DUB_ONSET_JITTER, DUB_ONSET_JITTER))
                begin = min(max(moved, previous_end[lang] + 0.05), shot["end"] - seconds - 0.05)
                offsets[lang] = round(begin - start, 3)
                previous_end[lang] = start + offsets[lang] + seconds
            lines.append(Line(shot["index"], voices[original][who].id, phrase, start, audio,
                              offsets))
            cursor += longest + float(rng.uniform(0.3, 0.9))
    return lines


def _speak(text: str, language: str, voice: Speaker, sample_rate: int) -> np.ndarray:
    return spoken(text, language, voice.variant, voice.pitch, voice.rate, sample_rate,
                  voice.timbre)


def _voice_label(speaker: Speaker) -> dict:
    return {k: v for k, v in speaker.label().items() if k != "id"}


def world_label() -> dict:
    """The study world's constants, written into labels.json."""
    return {"name": "study", "dub_onset_jitter": DUB_ONSET_JITTER, "cast_size": list(CAST_SIZE),
            "locations": list(LOCATIONS), "close_up_radius": CLOSE_UP.radius,
            "keywords": list(KEYWORDS),
            "actors": [{"face": list(a.face), **_voice_label(a.voice)} for a in ACTORS]}
