"""Checkpoints: the authors' layout (safe loading), our directory format, and the CLI."""

from __future__ import annotations

import json
import pathlib
from collections import OrderedDict

import pytest
import torch
from mvit_fixtures import FIXTURES
from safetensors.torch import load_file

import dubclr.checkpoint
from dubclr.atomic import sha256_file
from dubclr.cli import main
from dubclr.errors import CheckpointError
from dubclr.models import checkpoint as ck
from dubclr.models.av import build_model
from dubclr.models.config import AudioTowerConfig, ModelConfig, VideoTowerConfig

AUTHORS = FIXTURES / "authors_format_tiny.pyth"
TOWER_JSON = {"video_config": FIXTURES / "config_video_tiny.json",
              "audio_config": FIXTURES / "config_audio_tiny.json"}


def _check_fixture_outputs(model):
    for modality in ("video", "audio"):
        io = load_file(FIXTURES / f"io_{modality}_tiny_f32.safetensors")
        with torch.inference_mode():
            out = getattr(model, f"embed_{modality}")(io["input"])
        torch.testing.assert_close(out, io["output"], atol=1e-4, rtol=0)


def test_authors_tiny_checkpoint_converts_and_reproduces_fixture(tmp_path):
    rc = main(["checkpoint", "convert", str(AUTHORS), str(tmp_path / "conv"),
               "--video-config", str(TOWER_JSON["video_config"]),
               "--audio-config", str(TOWER_JSON["audio_config"])])
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "conv").iterdir()) == [
        "manifest.json", "model.json", "model.safetensors"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left
    model = ck.load_model(tmp_path / "conv")
    _check_fixture_outputs(model)
    assert model.provenance["source"] == "authors-release"
    assert model.provenance["sha256"] == sha256_file(AUTHORS)


def test_authors_file_loads_directly_with_extra_keys_ignored(tmp_path):
    state = torch.load(AUTHORS, weights_only=True)["model"]
    state = OrderedDict(state)
    state["head.video.fc.weight"] = torch.ones(3, 3)  # not a backbone key: ignored
    path = tmp_path / "extra.pyth"
    torch.save({"model": state, "epoch": 3}, path)
    _check_fixture_outputs(ck.load_model(path, **TOWER_JSON))


class _Payload:
    """Unpickling this object calls Path.touch(marker): it must never happen by default."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_pickled_callable_never_runs_by_default(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pyth"
    state = torch.load(AUTHORS, weights_only=True)["model"]
    torch.save({"model": state, "extra": _Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="--trust-pickle") as err:
        ck.read_authors_checkpoint(path)
    assert "run any code" in str(err.value)
    assert not marker.exists()
    rc = main(["checkpoint", "convert", str(path), str(tmp_path / "out"),
               "--video-config", str(TOWER_JSON["video_config"])])
    assert rc == 2 and not marker.exists() and not (tmp_path / "out").exists()
    # the explicit opt-in does unpickle (and so runs the payload): that is the documented risk
    ck.read_authors_checkpoint(path, trust_pickle=True)
    assert marker.exists()


def test_wrong_input_size_says_which_size_the_weights_need(tmp_path):
    cfg = json.loads(TOWER_JSON["video_config"].read_text())
    cfg["constructor_args"]["spatial_size"] = [64, 64]
    bad = tmp_path / "video.json"
    bad.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="8 frames at 40x40"):
        ck.convert_authors_checkpoint(AUTHORS, video_config=bad)


def test_authors_file_without_config_is_refused():
    with pytest.raises(CheckpointError, match="--authors-config"):
        ck.load_model(AUTHORS)


def _tiny_model() -> torch.nn.Module:
    return build_model(ModelConfig(
        video=VideoTowerConfig(arch="x3d", preset="tiny", frames=4, crop=32),
        audio=AudioTowerConfig(arch="mvit", preset="tiny", mel_bins=32, mel_frames=64)))


def test_save_and_load_round_trip_with_heads(tmp_path):
    torch.manual_seed(0)
    model = _tiny_model().eval()
    ck.save_model(model, tmp_path / "m", provenance={"run": "unit"})
    loaded = ck.load_model(tmp_path / "m")
    video, audio = torch.rand(2, 3, 4, 32, 32), torch.randn(2, 1, 32, 64)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(video=video, audio=audio)["video"],
                                   model(video=video, audio=audio)["video"], atol=0, rtol=0)
        torch.testing.assert_close(loaded.project_audio(audio), model.project_audio(audio),
                                   atol=0, rtol=0)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["format"] == "dubclr-model" and meta["version"] == 1
    assert meta["provenance"]["run"] == "unit"
    # a training checkpoint directory holds the same two files (plus trainer state)
    step = tmp_path / "run" / "checkpoints" / "step_00000010"
    ck.save_model(model, step)
    (step / "trainer.pt").write_bytes(b"not read by load_model")
    assert ck.load_model(step).config == model.config
    assert ck.load_model(step / "model.json").config == model.config


def test_save_is_atomic_and_refuses_to_clobber(tmp_path, monkeypatch):
    model = _tiny_model()
    ck.save_model(model, tmp_path / "m")
    with pytest.raises(CheckpointError, match="already exists"):
        ck.save_model(model, tmp_path / "m")
    before = (tmp_path / "m" / "model.safetensors").read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(dubclr.checkpoint, "save_file", boom)  # the one writer's
    with pytest.raises(OSError):
        ck.save_model(model, tmp_path / "m", overwrite=True)
    with pytest.raises(OSError):
        ck.save_model(model, tmp_path / "new")
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == before  # old one intact
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp leftovers


def test_foreign_json_is_refused(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(CheckpointError, match="dubclr-model"):
        ck.load_model(tmp_path)


def test_checkpoint_info_cli(tmp_path, capsys):
    ck.save_model(_tiny_model(), tmp_path / "m", provenance={"run": "unit"})
    assert main(["checkpoint", "info", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "video: x3d preset tiny, input 3x4x32x32" in out
    assert "audio: mvit preset tiny, input 1x32x64" in out
    assert "provenance.run: unit" in out
    assert main(["checkpoint", "info", str(AUTHORS),
                 "--video-config", str(TOWER_JSON["video_config"]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["towers"]["video"]["params"] == 28064 and "audio" not in info["towers"]


def test_info_paths_a_user_may_type(tmp_path, capsys):
    """A missing path is named as missing (not as its parent lacking model.json), the
    weights file inside our directory loads that directory, and a file that is no torch
    checkpoint is not sent to --trust-pickle."""
    out = tmp_path / "conv"
    assert main(["checkpoint", "convert", str(AUTHORS), str(out),
                 "--video-config", str(TOWER_JSON["video_config"])]) == 0
    capsys.readouterr()
    assert main(["checkpoint", "info", str(tmp_path / "nope")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["checkpoint", "info", str(out / "model.safetensors")]) == 0
    assert "28,064 parameters" in capsys.readouterr().out
    text = tmp_path / "notes.md"
    text.write_text("# not a checkpoint\n")
    assert main(["checkpoint", "info", str(text), "--video-config",
                 str(TOWER_JSON["video_config"])]) == 2
    err = capsys.readouterr().err
    assert "not a torch checkpoint" in err and "--trust-pickle" not in err
