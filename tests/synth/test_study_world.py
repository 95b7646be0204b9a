"""The study world: the premise of the controlled study holds in what is written to disk."""

import json

import numpy as np
import pytest

from dubclr.media import probe, read_audio, read_video
from dubclr.synth import build_corpus, study_world
from dubclr.synth.corpus import CorpusOptions
from dubclr.synth.sounds import SCENE_SOUNDS
from dubclr.synth.study_world import ACTORS, DUB_ONSET_JITTER, KEYWORDS, plan_study_title

STUDY = dict(titles=3, seed=5, languages=("en", "es", "fr", "ja"), world="study", shots=(5, 6),
             shot_seconds=(3.0, 4.0), title_seconds=18.0, size=(160, 90), max_lines_per_shot=2)
RATE = 48000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("study_world")
    build_corpus(out, jobs=2, show_progress=False, **STUDY)
    return out, json.loads((out / "labels.json").read_text(encoding="utf-8"))


def test_labels_describe_the_world_and_its_casts(world):
    _, labels = world
    assert labels["world"]["name"] == "study"
    assert labels["world"]["keywords"] == list(KEYWORDS)
    assert len(labels["world"]["actors"]) == len(ACTORS)
    for title in labels["titles"]:
        actors = [s["actor"] for s in title["speakers"]]
        assert 2 <= len(actors) <= 4 and len(set(actors)) == len(actors)
        for speaker in title["speakers"]:  # in the original an actor speaks with their own voice
            own = ACTORS[speaker["actor"]].voice
            assert {k: v for k, v in speaker.items() if k in own.label() and k != "id"} == \
                {k: v for k, v in own.label().items() if k != "id"}
            assert set(speaker["dub_voices"]) == {"es", "fr", "ja"}


def test_shots_revisit_a_few_locations(world):
    _, labels = world
    for title in labels["titles"]:
        shots = title["shots"]
        scene_of = {}
        for before, after in zip(shots, shots[1:]):
            assert after["location"] != before["location"]  # every cut changes the picture
        for shot in shots:
            assert scene_of.setdefault(shot["location"], shot["scene"]) == shot["scene"]
            assert shot["sound"] == SCENE_SOUNDS[shot["scene"]]
            assert len(shot["speakers"]) == 1 and shot["partner"] not in shot["speakers"]
        assert 2 <= len(scene_of) <= 3 and len(set(scene_of.values())) == len(scene_of)
        assert len(shots) > len(scene_of)  # so some shots look alike


def test_dubs_are_retimed_within_the_jitter_inside_the_shot(world):
    _, labels = world
    moved = []
    for title in labels["titles"]:
        turns = {}
        for line in title["dialogue"]:  # the one on screen, then the partner, in turns
            shot = title["shots"][line["shot"]]
            turn = turns[line["shot"]] = turns.get(line["shot"], -1) + 1
            assert line["phrase"] in KEYWORDS
            assert line["speaker"] == (shot["partner"] if turn % 2 else shot["speakers"][0])
            original = line["segments"]["en"][0]
            for lang, (start, end) in line["segments"].items():
                assert shot["start"] < start < end <= shot["end"]
                assert abs(start - original) <= DUB_ONSET_JITTER + 1e-3 or lang == "en"
                moved.append(abs(start - original))
        for lang in labels["languages"]:  # one language never talks over itself
            spans = sorted(line["segments"][lang] for line in title["dialogue"])
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert max(moved) > 0.1  # the dubs really moved


def test_every_track_is_the_same_bed_plus_its_own_speech(world):
    out, labels = world
    title = labels["titles"][0]
    seconds = title["duration"]
    bed = read_audio(out / title["stems"]["background"], 0, seconds)
    separated = read_audio(out / title["separated"], 0, seconds)
    np.testing.assert_allclose(separated, bed, atol=1e-4)  # SEP's track is the bed itself
    for lang in labels["languages"]:
        track = read_audio(out / title["file"], 0, seconds, track=lang)
        speech = read_audio(out / title["stems"]["speech"][lang], 0, seconds)
        np.testing.assert_allclose(track - speech, bed, atol=2e-4)  # the bed, sample for sample
    assert probe(out / title["file"]).languages == ["en", "es", "fr", "ja"]


def test_mouths_follow_the_original_not_the_dubs(world):
    """The mouth on screen against the speech of the character on screen, per language."""
    out, labels = world
    by_lang = {lang: [] for lang in labels["languages"]}
    for title in labels["titles"]:
        on_screen = [line for line in title["dialogue"]
                     if line["speaker"] in title["shots"][line["shot"]]["speakers"]]
        frames = read_video(out / title["file"], 0, title["duration"], num_frames=None)
        band = frames[:, int(0.6 * frames.shape[1]):int(0.76 * frames.shape[1])]  # mouths' rows
        r, g = band[..., 0].astype(int), band[..., 1].astype(int)
        mouth = ((r > 2 * g + 20) & (g < 40)).sum(axis=(1, 2))
        hop = RATE // 25
        for lang in labels["languages"]:
            speech = read_audio(out / title["stems"]["speech"][lang], 0, title["duration"])
            keep = np.zeros(len(speech), bool)
            for line in on_screen:
                start, end = line["segments"][lang]
                keep[int(start * RATE):int(end * RATE) + 1] = True
            speech = np.where(keep, speech, 0)
            envelope = np.sqrt((speech[: len(frames) * hop].reshape(len(frames), hop) ** 2).mean(1))
            by_lang[lang].append(np.corrcoef(mouth, envelope)[0, 1])
    original = np.mean(by_lang["en"])
    assert original > 0.5, by_lang
    for lang in ("es", "fr", "ja"):
        assert np.mean(by_lang[lang]) < original - 0.15, by_lang


def test_words_voices_and_timing_do_not_depend_on_the_scenes(monkeypatch):
    """Relabel every scene: the dialogue drawn from the same generator stays the same."""
    opts = CorpusOptions(**{k: v for k, v in STUDY.items() if k != "titles"})
    first = plan_study_title(np.random.default_rng([5, 0]), opts)
    monkeypatch.setattr(study_world, "SCENE_CLASSES", tuple(reversed(study_world.SCENE_CLASSES)))
    second = plan_study_title(np.random.default_rng([5, 0]), opts)
    assert [s["scene"] for s in first.shots] != [s["scene"] for s in second.shots]

    def dialogue(plan):
        return [(line.shot, line.speaker, line.phrase, line.start, sorted(line.offsets.items()))
                for line in plan.lines]

    assert dialogue(first) == dialogue(second) and first.lines
    assert [s["speakers_idx"] for s in first.shots] == [s["speakers_idx"] for s in second.shots]


def test_the_toy_world_is_the_default_and_unchanged_by_the_study_world(tiny_corpus):
    labels = json.loads((tiny_corpus / "labels.json").read_text(encoding="utf-8"))
    assert labels["world"] == {"name": "toy"}
    assert not list(tiny_corpus.glob("*.separated.flac"))
    assert "location" not in labels["titles"][0]["shots"][0]
