"""What a user can get wrong around embed, probe and HEAR: each gives a one-line error
that says what to do, or the right behaviour (review fixes)."""

import json

import numpy as np
import pytest
import torch

from dubclr.cli import main
from dubclr.errors import ConfigError
from dubclr.evaluate.embed import EmbedOptions, run_embed
from dubclr.evaluate.probe_data import ProbeInputError, load_features, load_labels, make_splits
from dubclr.evaluate.probes import ProbeConfig


def _audio_model(seed):
    from dubclr.models.av import build_model
    from dubclr.models.config import AudioTowerConfig, HeadConfig, ModelConfig

    config = ModelConfig(video=None, audio=AudioTowerConfig(arch="mvit", preset="tiny",
                                                            mel_bins=24, mel_frames=72),
                         head=HeadConfig(hidden_dim=32, out_dim=16))
    torch.manual_seed(seed)
    return build_model(config).eval(), config


def test_csv_labels_saved_by_excel_with_a_bom(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("file,label,split\na.wav,dog,train\nb.wav,cat,test\n", encoding="utf-8-sig")
    rows = load_labels(path)
    assert [r["file"] for r in rows] == ["a.wav", "b.wav"]


@pytest.mark.parametrize("name, text, match", [
    ("bad.json", "{not json", "not valid JSON"),
])
def test_broken_label_json_is_a_probe_input_error(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(ProbeInputError, match=match):
        load_labels(tmp_path / name)


def test_non_integer_fold_is_named():
    rows = [{"file": str(i), "label": "x", "fold": f} for i, f in enumerate(["0", "1", "two"])]
    with pytest.raises(ProbeInputError, match="'two'"):
        make_splits(rows)


def test_unreadable_features_are_probe_input_errors(tmp_path):
    (tmp_path / "labels.csv").write_text("file,label,split\na,x,train\n")
    with pytest.raises(ProbeInputError, match="Parquet"):
        load_features(tmp_path / "labels.csv")
    np.save(tmp_path / "flat.npy", np.zeros(8, dtype=np.float32))
    with pytest.raises(ProbeInputError, match="2-D"):
        load_features(tmp_path / "flat.npy")
    (tmp_path / "fake.npy").write_bytes(b"not numpy")
    with pytest.raises(ProbeInputError, match="NumPy"):
        load_features(tmp_path / "fake.npy")


@pytest.mark.parametrize("field", ["batch_size", "hidden_dim", "max_epochs", "sgd_epochs"])
def test_probe_sizes_must_be_positive(field):
    with pytest.raises(ConfigError, match=field):
        ProbeConfig(**{field: 0})


def test_probe_cli_bad_values_are_one_line_errors(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.zeros((4, 3), dtype=np.float32))
    (tmp_path / "l.csv").write_text("file,label,split\na,x,train\nb,y,train\nc,x,test\nd,y,test\n")
    rc = main(["probe", str(tmp_path / "f.npy"), str(tmp_path / "l.csv"), "--batch-size", "0",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("dubclr: error:") and "batch" in err
    assert "Traceback" not in err


def test_embed_batch_size_zero_is_refused(media_dir, tmp_path, tiny_checkpoint, capsys):
    with pytest.raises(ConfigError, match="batch_size"):
        EmbedOptions(batch_size=0)
    rc = main(["embed", "--checkpoint", str(tiny_checkpoint), "--input", str(media_dir),
               "--out", str(tmp_path / "o"), "--batch-size", "0", "--device", "cpu"])
    assert rc == 2 and "batch" in capsys.readouterr().err


def test_embed_of_a_run_directory_records_the_step_and_refuses_a_newer_one(media_dir, tmp_path):
    """A run directory means its newest checkpoint; when training writes a newer one, the
    re-run must not mix embeddings of two different models in one table."""
    from dubclr.checkpoint import model_state, write_checkpoint

    def write_step(step, seed):
        model, config = _audio_model(seed)
        return write_checkpoint(run / "checkpoints" / f"step_{step:08d}", model_state(model),
                                config, trainer_state={"step": step})

    run = tmp_path / "run"
    first = write_step(1, 0)
    out = tmp_path / "emb"
    options = EmbedOptions(modalities=("audio",))
    run_embed(run, media_dir / "sub" / "b.wav", out, options, device="cpu")
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["checkpoint"] == str(first.resolve())
    write_step(2, 1)
    with pytest.raises(ConfigError, match="step_00000002"):
        run_embed(run, media_dir / "sub" / "b.wav", out, options, device="cpu")


def test_audio_files_with_video_only_are_not_counted_as_done(media_dir, tmp_path,
                                                             tiny_checkpoint):
    s = run_embed(tiny_checkpoint, media_dir / "sub" / "b.wav", tmp_path / "o",
                  EmbedOptions(modalities=("video",)), device="cpu")
    assert (s.files_embedded, s.files_skipped) == (0, 0)


def test_bench_without_subcommand_shows_bench_help(capsys):
    assert main(["bench"]) == 2
    assert "toy" in capsys.readouterr().out


def test_hear_empty_batch_keeps_the_embedding_size(tiny_checkpoint):
    from dubclr import hear

    model = hear.load_model(str(tiny_checkpoint))
    emb, times = hear.get_timestamp_embeddings(torch.zeros(0, 4800), model)
    assert emb.shape == (0, 2, model.timestamp_embedding_size) and times.shape == (0, 2)
    scene = hear.get_scene_embeddings(torch.zeros(0, 4800), model)
    assert scene.shape == (0, model.scene_embedding_size)


def test_embed_empty_input_and_file_as_out_are_clear_errors(tmp_path, media_dir, tiny_checkpoint):
    from dubclr.media import MediaError

    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not media")
    with pytest.raises(MediaError, match="no media files"):
        run_embed(tiny_checkpoint, tmp_path / "empty", tmp_path / "o", device="cpu")
    with pytest.raises(ConfigError, match="is a file"):
        run_embed(tiny_checkpoint, media_dir / "sub", tmp_path / "notes.txt", device="cpu")
    assert (tmp_path / "notes.txt").read_text() == "not media"
