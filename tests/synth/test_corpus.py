import json
import re

import numpy as np
import pytest

from dubclr.errors import ConfigError, DubclrError
from dubclr.media import probe, read_audio, read_video
from dubclr.synth import build_corpus
from dubclr.synth.phrasebook import PHRASES
from dubclr.synth.sounds import SCENE_SOUNDS

KANA_TEXT = re.compile(r"^[\u3040-\u30ff\u3000-\u303f\uff01-\uff1f ！？、。]+$")
MICRO = dict(titles=2, languages=("en", "ja"), shots=(2, 2), shot_seconds=(3.0, 3.0),
             title_seconds=6.0, size=(64, 36), show_progress=False)


@pytest.fixture(scope="module")
def labels(tiny_corpus):
    return json.loads((tiny_corpus / "labels.json").read_text(encoding="utf-8"))


def test_labels_follow_the_contract(tiny_corpus, labels):
    assert {"version", "seed", "languages", "scene_classes", "sound_classes", "titles"} <= set(labels)
    assert labels["languages"] == ["en", "es", "fr", "ja"] and len(labels["titles"]) == 3
    assert 6 <= len(labels["scene_classes"]) <= 8
    for title in labels["titles"]:
        assert (tiny_corpus / title["file"]).is_file()
        assert title["original_language"] == "en"
        speaker_ids = {s["id"] for s in title["speakers"]}
        assert 1 <= len(speaker_ids) <= 3
        shots = title["shots"]
        assert 3 <= len(shots) <= 4 and shots[0]["start"] == 0.0
        for before, after in zip(shots, shots[1:]):
            assert after["start"] == before["end"]
            assert after["scene"] != before["scene"]
        for shot in shots:
            assert 3.0 - 0.02 <= shot["end"] - shot["start"] <= 5.0 + 0.02
            assert shot["scene"] in labels["scene_classes"]
            assert shot["sound"] == SCENE_SOUNDS[shot["scene"]] in labels["sound_classes"]
            assert shot["speakers"] and set(shot["speakers"]) <= speaker_ids
        assert title["duration"] == shots[-1]["end"]
        for stem in [title["stems"]["background"], *title["stems"]["speech"].values(),
                     *title["subtitles"].values()]:
            assert (tiny_corpus / stem).is_file()


def test_dialogue_is_in_every_language_inside_its_shot(labels):
    lines = [line for title in labels["titles"] for line in title["dialogue"]]
    assert len(lines) >= 6
    for title in labels["titles"]:
        for line in title["dialogue"]:
            shot = title["shots"][line["shot"]]
            assert line["speaker"] in shot["speakers"]
            assert line["text"] == {k: PHRASES[line["phrase"]][k] for k in ("en", "es", "fr", "ja")}
            assert KANA_TEXT.match(line["text"]["ja"]), line["text"]["ja"]
            starts = {seg[0] for seg in line["segments"].values()}
            assert len(starts) == 1  # every dub starts with the original
            for start, end in line["segments"].values():
                assert shot["start"] < start < end <= shot["end"]


def test_matroska_has_one_tagged_track_per_language(tiny_corpus, labels):
    for title in labels["titles"]:
        info = probe(tiny_corpus / title["file"])
        assert info.languages == ["en", "es", "fr", "ja"]
        assert [t.default for t in info.audio] == [True, False, False, False]
        assert (info.video.width, info.video.height, info.video.fps) == (160, 90, 25.0)
        assert info.video.num_frames == round(title["duration"] * 25)
        assert info.duration == pytest.approx(title["duration"], abs=0.05)


def test_tracks_are_the_same_bed_plus_each_languages_speech(tiny_corpus, labels):
    title = labels["titles"][0]
    path = tiny_corpus / title["file"]
    seconds = title["duration"]
    bed = read_audio(tiny_corpus / title["stems"]["background"], 0, seconds)
    assert np.sqrt(np.mean(bed ** 2)) > 0.01
    for lang in labels["languages"]:
        track = read_audio(path, 0, seconds, track=lang)
        speech = read_audio(tiny_corpus / title["stems"]["speech"][lang], 0, seconds)
        np.testing.assert_allclose(track, np.clip(bed + speech, -1, 1), atol=2e-4)
        for line in title["dialogue"]:  # speech where the labels say, and only there
            start, end = line["segments"][lang]
            inside = speech[int(start * 48000):int(end * 48000)]
            assert np.abs(inside).max() > 0.3
        silent = np.ones(len(speech), bool)
        for line in title["dialogue"]:
            start, end = line["segments"][lang]
            silent[int(start * 48000) - 48:int(end * 48000) + 48] = False  # labels are in ms
        assert np.abs(speech[silent]).max() == 0.0


def test_cuts_are_visible_at_shot_boundaries(tiny_corpus, labels):
    title = labels["titles"][1]
    frames = read_video(tiny_corpus / title["file"], 0, title["duration"], num_frames=None)
    change = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))
    cut_frames = {round(shot["start"] * 25) - 1 for shot in title["shots"][1:]}
    within = [c for i, c in enumerate(change) if i not in cut_frames]
    assert min(change[i] for i in cut_frames) > 3 * max(within)


def test_mouths_move_with_the_original_speech(tiny_corpus, labels):
    correlations = []
    for title in labels["titles"]:
        frames = read_video(tiny_corpus / title["file"], 0, title["duration"], num_frames=None)
        r, g = frames[..., 0].astype(int), frames[..., 1].astype(int)
        mouth_pixels = ((r > 2 * g + 20) & (g < 40)).sum(axis=(1, 2))
        speech = read_audio(tiny_corpus / title["stems"]["speech"]["en"], 0, title["duration"])
        envelope = np.sqrt((speech[: len(frames) * 1920].reshape(len(frames), 1920) ** 2).mean(1))
        correlations.append(np.corrcoef(mouth_pixels, envelope)[0, 1])
    assert np.mean(correlations) > 0.5, correlations


def test_subtitles_match_the_dialogue(tiny_corpus, labels):
    title = labels["titles"][2]
    for lang, relpath in title["subtitles"].items():
        blocks = (tiny_corpus / relpath).read_text(encoding="utf-8").strip().split("\n\n")
        assert len(blocks) == len(title["dialogue"])
        for block, line in zip(blocks, sorted(title["dialogue"], key=lambda x: x["segments"][lang])):
            number, times, text = block.split("\n")
            assert text == line["text"][lang]
            start = times.split(" --> ")[0]
            h, m, s = start.replace(",", ".").split(":")
            assert int(h) * 3600 + int(m) * 60 + float(s) == pytest.approx(line["segments"][lang][0],
                                                                            abs=1e-3)


def test_same_seed_same_labels_bytes_whatever_the_jobs(tmp_path):
    one = build_corpus(tmp_path / "a", seed=7, jobs=1, **MICRO)
    two = build_corpus(tmp_path / "b", seed=7, jobs=2, **MICRO)
    assert one.read_bytes() == two.read_bytes()
    other = build_corpus(tmp_path / "c", seed=8, jobs=2, **MICRO)
    assert other.read_bytes() != one.read_bytes()


def test_bad_requests_lose_nothing(tmp_path):
    with pytest.raises(ConfigError, match="choose from"):
        build_corpus(tmp_path / "x", **{**MICRO, "languages": ("en", "xx")})
    with pytest.raises(ConfigError, match="original_language"):
        build_corpus(tmp_path / "x", original_language="fr", **MICRO)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(DubclrError, match="not empty"):
        build_corpus(busy, **MICRO)
    assert (busy / "notes.txt").read_text() == "keep me"


def test_existing_corpus_needs_overwrite(tmp_path):
    out = tmp_path / "corpus"
    first = build_corpus(out, seed=1, jobs=1, **{**MICRO, "titles": 1}).read_bytes()
    with pytest.raises(DubclrError, match="--force"):
        build_corpus(out, seed=1, jobs=1, **{**MICRO, "titles": 1})
    again = build_corpus(out, seed=1, jobs=1, overwrite=True, **{**MICRO, "titles": 1})
    assert again.read_bytes() == first


def test_zero_fps_and_no_languages_are_config_errors(tmp_path, capsys):
    from dubclr.cli import main

    with pytest.raises(ConfigError, match="fps"):
        build_corpus(tmp_path / "x", **{**MICRO, "fps": 0})
    assert main(["synth", "corpus", str(tmp_path / "y"), "--fps", "0"]) == 2
    assert main(["synth", "corpus", str(tmp_path / "y"), "--languages", ","]) == 2
    err = capsys.readouterr().err
    assert "fps" in err and "--languages" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
