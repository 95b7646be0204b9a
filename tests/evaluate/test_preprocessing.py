"""A model carries its preprocessing: `dubclr train` records its data settings with every
checkpoint, and evaluation (embed, HEAR, the toy benchmark) decodes and transforms from them,
never from defaults."""

import json
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dubclr.config import load_config
from dubclr.evaluate.embed import EmbedOptions, run_embed
from dubclr.evaluate.encoder import AudioSpec, VideoSpec, load_encoder
from dubclr.models.checkpoint import save_model
from dubclr.train import TrainConfig, Trainer

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "toy" / "EN.yaml"


def test_embed_uses_the_settings_a_model_was_trained_with(tiny_catalog, real_media, tmp_path):
    cfg = load_config(TrainConfig, CONFIG, [
        f"data.catalog={tiny_catalog}", f"run_dir={tmp_path / 'run'}", "data.num_workers=0",
        "data.sampler.batch_size=2", "data.sampler.same_title=1", "schedule.max_steps=1",
        # none of them the defaults evaluation would otherwise use
        "data.clip_seconds=2.0", "data.video.fps=12.5", "data.video.num_frames=4",
        "model.video.frames=4", "data.video.eval_short_side=72", "data.audio.channels=2",
        "model.audio.channels=2", "data.audio.n_fft=512", "data.audio.hop_length=300"])
    checkpoint = Trainer(cfg, show_progress=False).fit().last_checkpoint
    meta = json.loads((checkpoint / "model.json").read_text())
    assert meta["provenance"]["data"]["video"]["eval_short_side"] == 72

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checkpoint that records its settings: no warning
        encoder = load_encoder(checkpoint)
    assert encoder.video_spec == VideoSpec(fps=12.5, num_frames=4, crop=64, short_side=72,
                                           clip_seconds=2.0)
    assert encoder.audio_spec == AudioSpec(sample_rate=48000, n_fft=512, hop_length=300,
                                           n_mels=96, frames=288, channels=2, clip_seconds=2.0)
    frontend = encoder.audio_frontend
    assert (frontend.n_fft, frontend.hop_length, frontend.channels) == (512, 300, 2)
    title = real_media.path("original_flag_360p_25")  # 640x360, 8 s
    assert encoder.read_video(title, 1.0, 2.0).shape == (4, 72, 128, 3)
    assert encoder.read_audio(title, 1.0, 2.0).shape == (2, 96000)

    out = tmp_path / "emb"
    run_embed(checkpoint, title, out, EmbedOptions(), device="cpu")
    rows = pq.read_table(next(out.glob("*.parquet"))).to_pylist()
    for modality in ("video", "audio"):
        spans = [round(r["end"] - r["start"], 3) for r in rows if r["modality"] == modality]
        assert len(spans) >= 3 and set(spans[:-1]) == {2.0}, modality  # 2 s windows
    written = json.loads((out / "metadata.json").read_text())
    assert written["video_frontend"]["short_side"] == 72
    assert written["audio_frontend"]["hop_length"] == 300


def test_a_checkpoint_without_its_settings_falls_back_to_defaults_with_a_warning(
        tiny_model, tmp_path):
    save_model(tiny_model(0), tmp_path / "old", provenance={"source": "dubclr train"})
    with pytest.warns(UserWarning, match="records no preprocessing"):
        encoder = load_encoder(tmp_path / "old")
    assert (encoder.video_spec.fps, encoder.video_spec.short_side) == (25.0, round(40 * 256 / 224))
    assert (encoder.audio_spec.sample_rate, encoder.audio_spec.clip_seconds) == (48000, 3.0)
