import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from dubclr.cli import main
from dubclr.errors import ConfigError
from dubclr.evaluate.embed import EmbedOptions, find_media, run_embed
from dubclr.evaluate.encoder import load_encoder
from dubclr.evaluate.windows import audio_windows, video_windows
from dubclr.media import read_audio

FIXTURES = Path(__file__).parents[1] / "fixtures" / "mvit_parity"


def _table(out):
    return pq.read_table(out / "embeddings.parquet").to_pylist()


@pytest.fixture(scope="module")
def embedded(tiny_checkpoint, media_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("emb")
    summary = run_embed(tiny_checkpoint, media_dir, out, EmbedOptions(tracks="all"), device="cpu")
    return out, summary


def test_find_media_skips_sidecars(media_dir):
    names = [p.relative_to(media_dir).as_posix() for p in find_media(media_dir)]
    assert names == ["a.mkv", "broken.mp4", "sub/b.wav", "sub/c.mkv"]


def test_embed_writes_windows_by_the_tail_rule(embedded, media_dir):
    out, summary = embedded
    rows = _table(out)
    assert summary.files_embedded == 3 and list(summary.errors) == ["broken.mp4"]
    assert "re-encode" in summary.errors["broken.mp4"].lower()
    a_video = [(r["start"], r["end"]) for r in rows if r["file"] == "a.mkv" and r["modality"] == "video"]
    np.testing.assert_allclose(a_video, video_windows(114 / 25))  # 115 frames at 25 fps
    for lang in ("en", "es"):
        spans = [(r["start"], r["end"]) for r in rows if r["file"] == "a.mkv" and r["track"] == lang]
        expected = [(s / 48000, e / 48000) for s, e in audio_windows(round(4.6 * 48000), 48000)]
        np.testing.assert_allclose(spans, expected)
    b = [r for r in rows if r["file"] == "sub/b.wav"]
    assert len(b) == 1 and b[0]["end"] == pytest.approx(2.0)
    # the French sidecar is a track of c.mkv, not a file of its own
    assert {r["track"] for r in rows if r["file"] == "sub/c.mkv" and r["modality"] == "audio"} == {"en", "fr"}
    assert all(len(r["embedding"]) == 64 and np.isfinite(r["embedding"]).all() for r in rows)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["embedding_dim"] == {"video": 64, "audio": 64}
    assert meta["audio_frontend"]["n_mels"] == 24 and "broken.mp4" in meta["errors"]


def test_embedding_matches_direct_encoding(embedded, media_dir, tiny_checkpoint):
    out, _ = embedded
    row = next(r for r in _table(out) if r["file"] == "a.mkv" and r["track"] == "es" and r["window"] == 1)
    enc = load_encoder(tiny_checkpoint)
    wave = read_audio(media_dir / "a.mkv", row["start"], row["end"] - row["start"], track="es")
    direct = enc.audio(torch.from_numpy(wave)[None]).numpy()[0]
    np.testing.assert_allclose(row["embedding"], direct, atol=1e-5, rtol=1e-4)
    # different tracks of the same window really differ
    en = next(r for r in _table(out) if r["file"] == "a.mkv" and r["track"] == "en" and r["window"] == 1)
    assert np.abs(np.subtract(en["embedding"], row["embedding"])).max() > 1e-5


def test_rerun_skips_done_files_and_refuses_other_settings(embedded, media_dir, tiny_checkpoint):
    out, _ = embedded
    before = _table(out)
    again = run_embed(tiny_checkpoint, media_dir, out, EmbedOptions(tracks="all"), device="cpu")
    assert again.files_embedded == 0 and again.files_skipped == 3
    assert _table(out) == before
    with pytest.raises(ConfigError, match="other settings"):
        run_embed(tiny_checkpoint, media_dir, out, EmbedOptions(crops="five"), device="cpu")


def test_five_crops_and_cli(tiny_checkpoint, media_dir, tmp_path, capsys):
    rc = main(["embed", "--checkpoint", str(tiny_checkpoint), "--input", str(media_dir / "a.mkv"),
               "--out", str(tmp_path / "five"), "--modality", "video", "--crops", "5",
               "--device", "cpu"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "embeddings:" in printed and str(tmp_path / "five") in printed
    five = _table(tmp_path / "five")
    assert {r["modality"] for r in five} == {"video"}
    assert sorted(r["crop"] for r in five if r["window"] == 0) == [0, 1, 2, 3, 4]
    # the centre crop of the five is the single-crop embedding
    run_embed(tiny_checkpoint, media_dir / "a.mkv", tmp_path / "one", EmbedOptions(modalities=("video",)),
              device="cpu")
    one = _table(tmp_path / "one")
    centre = [r["embedding"] for r in five if r["crop"] == 4]
    np.testing.assert_allclose(centre, [r["embedding"] for r in one], atol=1e-5)
    corners = [r["embedding"] for r in five if r["crop"] == 0]
    assert np.abs(np.subtract(corners, centre)).max() > 1e-5


def test_authors_checkpoint_either_tower(media_dir, tmp_path):
    ckpt = FIXTURES / "authors_format_tiny.pyth"
    kw = dict(video_config=FIXTURES / "config_video_tiny.json",
              audio_config=FIXTURES / "config_audio_tiny.json")
    enc = load_encoder(ckpt, **kw)
    assert (enc.video_dim, enc.audio_dim) == (32, 32)
    assert (enc.audio_spec.n_mels, enc.audio_spec.frames) == (24, 72)
    rc = main(["embed", "--checkpoint", str(ckpt), "--input", str(media_dir / "sub"),
               "--out", str(tmp_path / "authors"), "--modality", "audio", "--device", "cpu",
               "--audio-config", str(kw["audio_config"]), "--video-config", str(kw["video_config"])])
    assert rc == 0
    rows = _table(tmp_path / "authors")
    assert {r["modality"] for r in rows} == {"audio"} and len(rows[0]["embedding"]) == 32


def test_missing_checkpoint_is_a_clear_error(media_dir, tmp_path, capsys):
    rc = main(["embed", "--checkpoint", str(tmp_path / "nope"), "--input", str(media_dir),
               "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert rc == 2 and "checkpoint not found" in capsys.readouterr().err


def test_torchrun_two_ranks_give_the_same_table(embedded, tiny_checkpoint, media_dir, tmp_path):
    """Real torch.distributed (gloo, 2 CPU processes): files are sharded by rank."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    env = dict(os.environ, DUBCLR_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", "-m", "dubclr", "embed", "--checkpoint",
                           str(tiny_checkpoint), "--input", str(media_dir), "--out", str(out),
                           "--tracks", "all", "--device", "cpu"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "embedded 3 files" in proc.stdout and "1 failed" in proc.stdout
    assert sorted(p.name for p in (out / "parts").glob("*.parquet"))[:2] == [
        "rank0-00000.parquet", "rank1-00000.parquet"]
    single, ddp = _table(embedded[0]), _table(out)
    assert [(r["file"], r["modality"], r["track"], r["window"]) for r in single] == \
        [(r["file"], r["modality"], r["track"], r["window"]) for r in ddp]
    np.testing.assert_allclose([r["embedding"] for r in single], [r["embedding"] for r in ddp],
                               atol=1e-5)
