"""The offline PocketSphinx backend, run for real: its wheel ships the en-us model."""

import json
import re

from dubclr.cli import main
from dubclr.counterfactual.backends.sphinx_asr import transcribe
from dubclr.counterfactual.manifest import read_manifest
from dubclr.media import probe, read_audio


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def test_pocketsphinx_recognises_the_corpus_english_speech(tiny_corpus):
    labels = json.loads((tiny_corpus / "labels.json").read_text())
    title = labels["titles"][0]
    speech = read_audio(tiny_corpus / title["stems"]["speech"]["en"], 0, title["duration"],
                        sample_rate=48000)
    lines = title["dialogue"]
    regions = [tuple(d["segments"]["en"]) for d in lines]
    segments = transcribe(speech, 48000, regions)
    assert segments, "no speech recognised at all"
    for seg in segments:
        assert (seg.start, seg.end) in regions and seg.text.strip()
    # Word recall against what was spoken: espeak-ng speech is far from PocketSphinx's
    # training data, so exact sentences are not expected, but most lines share words.
    said = {(s, e): set(words(d["text"]["en"])) for d, (s, e) in zip(lines, regions)}
    hits = sum(len(said[(seg.start, seg.end)] & set(words(seg.text))) for seg in segments)
    total = sum(len(w) for w in said.values())
    assert hits / total >= 0.3, [(d["text"]["en"], s.text) for d, s in zip(lines, segments)]


def test_pipeline_with_pocketsphinx_transcription(single_track_titles, tmp_path):
    out = tmp_path / "out"
    rc = main(["counterfactual", "run", str(single_track_titles), "--out", str(out),
               "--config", "offline", "--languages", "es", "--set",
               "transcribe.backend=pocketsphinx"])
    assert rc == 0
    records = read_manifest(out / "manifest.jsonl")
    transcribed = [r for r in records if r.get("stage") == "transcribe"]
    assert transcribed and all(r["params"]["transcribe"]["backend"] == "pocketsphinx" for r in transcribed)
    assert all(r["figures"]["segments"] > 0 for r in transcribed)
    for mkv in sorted((out / "titles").glob("*.mkv")):
        assert [t.language for t in probe(mkv).audio] == ["en", "es"]
