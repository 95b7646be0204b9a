"""The toy benchmark end to end on the tiny corpus with random-init tiny models.

These models are untrained, so the numbers test the pipeline (shapes, splits, bookkeeping,
report), not accuracy."""

import json

import numpy as np
import pytest

from dubclr.cli import main
from dubclr.evaluate.retrieval import top1_accuracy
from dubclr.evaluate.shots import read_corpus
from dubclr.evaluate.toy_bench import TASKS, title_folds

FAST = ["--seeds", "0,1", "--max-epochs", "15", "--patience", "5", "--sgd-epochs", "15",
        "--hidden-dim", "32", "--hidden-layers", "1", "--learning-rates", "1e-3"]


@pytest.fixture(scope="module")
def bench(tiny_corpus, tiny_checkpoint, tiny_audio_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    rc = main(["bench", "toy", "--checkpoints", str(tiny_checkpoint), str(tiny_audio_checkpoint),
               "--names", "AV", "AUD", "--corpus", str(tiny_corpus), "--out", str(out),
               "--device", "cpu", *FAST])
    assert rc == 0
    return out, json.loads((out / "toy_bench.json").read_text())


def test_report_files_and_table_layout(bench):
    out, result = bench
    for name in ("toy_bench.md", "toy_bench.html", "toy_bench.png"):
        assert (out / name).stat().st_size > 0
    md = (out / "toy_bench.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Type"))
    assert header.split("|")[-3:-1] == [" AV ", " AUD "]
    for task in TASKS:
        assert f"| {task.name} |" in md
    assert "V→A retrieval, dubbed audio" in md


def test_every_task_is_probed_on_held_out_title_folds(bench, tiny_corpus):
    _, result = bench
    av = result["variants"]["AV"]
    assert av["held_out_titles"] is True
    _, shots = read_corpus(tiny_corpus)
    n_titles = len({s.title for s in shots})
    for task in TASKS:
        r = av["tasks"][task.name]
        assert r["metric"] == "top1" and 0.0 <= r["mean"] <= 1.0
        assert len(r["runs"]) == min(4, n_titles) * 2  # folds x seeds
        assert r["probe"]["kind"] == task.probe
    # language ID: one sample per language track of every shot with speech
    speech_shots = sum(1 for s in shots if s.n_speakers > 0)
    assert av["tasks"]["language"]["n_samples"] == speech_shots * 4
    assert av["tasks"]["language"]["n_classes"] == 4
    assert av["tasks"]["sound"]["n_samples"] == len(shots)


def test_audio_only_model_gets_audio_tasks_only(bench):
    _, result = bench
    aud = result["variants"]["AUD"]
    assert aud["tasks"]["scene"] is None and aud["tasks"]["audiovisual"] is None
    assert aud["retrieval"] is None
    assert aud["tasks"]["sound"]["mean"] >= 0.0


def test_retrieval_numbers_are_consistent(bench, tiny_corpus):
    _, result = bench
    ret = result["variants"]["AV"]["retrieval"]
    _, shots = read_corpus(tiny_corpus)
    sizes = sorted(sum(1 for s in shots if s.title == t) for t in {s.title for s in shots})
    assert ret["titles"] == len(sizes)
    assert ret["chance"] == pytest.approx(np.mean([1 / n for n in sizes]))
    for value in ret["original"]["per_title"] + ret["dub"]["per_title"]:
        assert 0.0 <= value <= 1.0


def test_title_folds_hold_titles_out(tiny_corpus):
    _, shots = read_corpus(tiny_corpus)
    folds, held_out = title_folds(shots)
    assert held_out and set(folds) == {s.title for s in shots}
    assert len(set(folds.values())) == min(4, len(folds))


def test_top1_retrieval():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(6, 8))
    assert top1_accuracy(v, v + 0.01 * rng.normal(size=v.shape)) == 1.0
    assert top1_accuracy(v, np.roll(v, 1, axis=0)) == 0.0


def test_clip_inputs_decode_once_for_checkpoints_that_read_alike(tiny_corpus, tiny_model,
                                                                 tiny_checkpoint,
                                                                 tiny_audio_checkpoint):
    """Two checkpoints with the same preprocessing share every decoded clip and get the
    embeddings a fresh decoding gives; one that reads otherwise (two channels) decodes its
    own."""
    from dubclr.evaluate.encoder import Encoder, load_encoder
    from dubclr.evaluate.shots import ClipInputs, embed_shots

    _, shots = read_corpus(tiny_corpus)
    shots = shots[:5]
    reads = []

    def counted(encoder):
        for name in ("read_video", "read_audio"):
            real = getattr(encoder, name)
            setattr(encoder, name, lambda *a, _real=real, **k: reads.append(a) or _real(*a, **k))
        return encoder

    first = counted(load_encoder(tiny_checkpoint))
    recorded = first.model.provenance
    second = counted(Encoder(tiny_model(7), provenance=recorded))
    inputs = ClipInputs()
    embed_shots(first, shots, inputs=inputs)
    decoded = len(reads)
    assert decoded == sum(1 + len(s.languages) for s in shots)
    shared = embed_shots(second, shots, inputs=inputs)
    assert len(reads) == decoded  # nothing decoded again
    fresh = embed_shots(Encoder(tiny_model(7), provenance=recorded), shots)
    for key in fresh.video:
        np.testing.assert_allclose(shared.video[key], fresh.video[key], rtol=1e-5, atol=1e-6)
    for key in fresh.audio:
        np.testing.assert_allclose(shared.audio[key], fresh.audio[key], rtol=1e-5, atol=1e-6)
    stereo = counted(load_encoder(tiny_audio_checkpoint))
    embed_shots(stereo, shots, inputs=inputs)
    assert len(reads) == decoded + sum(len(s.languages) for s in shots)
