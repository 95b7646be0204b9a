"""X3D and the acoustic ResNet: shapes, output widths, presets; the preset table."""

from __future__ import annotations

import pytest
import torch

from dubclr.cli import main
from dubclr.errors import ConfigError
from dubclr.models.av import build_model
from dubclr.models.config import AudioTowerConfig, ModelConfig, VideoTowerConfig
from dubclr.models.presets import count_parameters
from dubclr.models.resnet_audio import build_resnet_audio
from dubclr.models.x3d import build_x3d


def test_x3d_tiny_forward_backward():
    net = build_x3d(VideoTowerConfig(arch="x3d", preset="tiny", out_dim=32))
    out = net(torch.rand(2, 3, 4, 32, 32))
    assert out.shape == (2, 32)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("channels", [1, 2])
def test_resnet_audio_tiny_channels(channels):
    net = build_resnet_audio(AudioTowerConfig(arch="resnet_audio", preset="tiny",
                                              channels=channels, out_dim=16))
    with torch.inference_mode():
        assert net.eval()(torch.randn(3, channels, 48, 96)).shape == (3, 16)


def test_real_size_controlled_study_towers_on_meta():
    """X3D-M and ResNet-50 at their real input sizes, 1024-d clip outputs (shapes only)."""
    with torch.device("meta"):
        x3d = build_x3d(VideoTowerConfig(arch="x3d", preset="M", out_dim=1024))
        res = build_resnet_audio(AudioTowerConfig(arch="resnet_audio", preset="50", channels=2,
                                                  out_dim=1024))
        assert x3d(torch.empty(2, 3, 16, 224, 224)).shape == (2, 1024)
        assert res(torch.empty(2, 2, 96, 288)).shape == (2, 1024)
    assert res.feature_dim == 2048
    assert 2_000_000 < count_parameters(x3d) < 3_000_000  # X3D-M backbone + 432->1024 layer
    assert 25_000_000 < count_parameters(res) < 26_000_000  # ResNet-50 trunk + 2048->1024


def test_bad_presets_are_config_errors():
    with pytest.raises(ConfigError, match="X3D presets"):
        build_x3d(VideoTowerConfig(arch="x3d", preset="L"))
    with pytest.raises(ConfigError, match="channels"):
        build_resnet_audio(AudioTowerConfig(arch="resnet_audio", preset="tiny", channels=3))


def test_av_model_mixes_towers_and_projects_to_unit_vectors():
    model = build_model(ModelConfig(
        video=VideoTowerConfig(arch="mvit", preset="tiny", frames=4, crop=32),
        audio=AudioTowerConfig(arch="resnet_audio", preset="tiny", out_dim=48))).eval()
    with torch.inference_mode():
        out = model(video=torch.rand(2, 3, 4, 32, 32), audio=torch.randn(2, 1, 32, 64))
        feats = model.embed_audio(torch.randn(2, 1, 32, 64))
    assert out["video"].shape == out["audio"].shape == (2, 512)
    torch.testing.assert_close(out["video"].norm(dim=-1), torch.ones(2))
    assert feats.shape == (2, 48)


def test_models_command_prints_the_table(capsys):
    assert main(["models", "--preset", "mvit-S-video", "--preset", "mvit-S-audio",
                 "--preset", "x3d-tiny"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(rows) == {"mvit-S-video", "mvit-S-audio", "x3d-tiny"}
    assert rows["mvit-S-video"][3] == "34,202,496"
    assert float(rows["mvit-S-video"][4]) == pytest.approx(28.18, abs=0.01)  # fixture README: 28.2
    assert float(rows["mvit-S-audio"][4]) == pytest.approx(3.51, abs=0.01)  # fixture README: 3.5
    assert main(["models", "--preset", "nope"]) == 2


def test_models_json_gives_one_object_per_preset(capsys):
    import json

    from dubclr.models.presets import get_preset

    assert main(["models", "--json", "--preset", "mvit-S-audio", "--preset", "x3d-tiny"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == ["mvit-S-audio", "x3d-tiny"]
    for row in rows:
        assert set(row) == {"name", "modality", "input", "out_dim", "params", "gflops", "note"}
        tower = get_preset(row["name"]).build()
        assert row["params"] == count_parameters(tower)
        assert row["out_dim"] == tower.out_dim
        assert row["input"] == list(get_preset(row["name"]).input_shape)
    assert rows[0]["modality"] == "audio" and rows[0]["gflops"] == pytest.approx(3.51, abs=0.01)
