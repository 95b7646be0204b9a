"""MViTv2 behaviour beyond parity: presets, input sizes, attention paths, authors' YAML."""

from __future__ import annotations

import pytest
import torch
from mvit_fixtures import load_json

from dubclr.errors import ConfigError
from dubclr.models.config import AudioTowerConfig, VideoTowerConfig
from dubclr.models.errors import InputSizeError
from dubclr.models.mvit import (
    build_audio_mvit,
    build_from_authors_yaml,
    build_video_mvit,
    preset_mvit_config,
)


def test_tiny_presets_take_configurable_sizes():
    video = build_video_mvit(VideoTowerConfig(preset="tiny", frames=8, crop=64))
    audio = build_audio_mvit(AudioTowerConfig(preset="tiny", mel_bins=64, mel_frames=192))
    with torch.inference_mode():
        assert video(torch.rand(2, 3, 8, 64, 64)).shape == (2, video.out_dim)
        assert audio(torch.randn(2, 1, 64, 192)).shape == (2, audio.out_dim)
    assert video.out_dim == audio.out_dim == 64


def test_two_channel_audio_tower():
    audio = build_audio_mvit(AudioTowerConfig(preset="tiny", channels=2, mel_bins=32, mel_frames=64))
    with torch.inference_mode():
        assert audio(torch.randn(3, 2, 32, 64)).shape == (3, 64)


def test_wrong_input_size_names_the_size_the_model_needs():
    video = build_video_mvit(VideoTowerConfig(preset="tiny", frames=8, crop=64))
    with pytest.raises(InputSizeError, match=r"\(B, 3, 8, 64, 64\)"):
        video(torch.rand(1, 3, 8, 96, 96))


def test_inconsistent_patch_grid_is_a_config_error():
    with pytest.raises(ConfigError, match="multiples of the patch stride"):
        build_video_mvit(VideoTowerConfig(preset="tiny", frames=8, crop=60))


def test_sdpa_and_explicit_paths_agree_with_gradients():
    torch.manual_seed(0)
    net = build_video_mvit(VideoTowerConfig(preset="tiny", frames=8, crop=48)).eval()
    x = torch.rand(2, 3, 8, 48, 48)
    grads = {}
    outs = {}
    for impl in ("sdpa", "explicit"):
        net.set_attention(impl)
        net.zero_grad()
        outs[impl] = net(x)
        outs[impl].square().sum().backward()
        grads[impl] = {n: p.grad.clone() for n, p in net.named_parameters()}
    torch.testing.assert_close(outs["sdpa"], outs["explicit"], atol=1e-5, rtol=1e-4)
    for name, g in grads["sdpa"].items():
        torch.testing.assert_close(g, grads["explicit"][name], atol=1e-5, rtol=1e-3, msg=name)


def test_drop_path_only_in_training():
    torch.manual_seed(0)
    net = build_audio_mvit(AudioTowerConfig(preset="tiny", mel_bins=32, mel_frames=64))
    x = torch.randn(4, 1, 32, 64)
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))
        net.train()
        a, b = net(x), net(x)
    assert not torch.equal(a, b)


def test_unknown_override_field_is_named():
    with pytest.raises(ConfigError, match="NOT_A_FIELD"):
        preset_mvit_config("video", "S", overrides={"NOT_A_FIELD": 1})
    with pytest.raises(ConfigError, match="POOL_FIRST"):
        build_video_mvit(VideoTowerConfig(preset="tiny", overrides={"POOL_FIRST": True}))


def _shapes(net):
    return {k: list(v.shape) for k, v in net.state_dict().items()}


def test_authors_yaml_resolution_matches_schema(tmp_path):
    """The release's YAML only picks SIZE / PATCH_OVERLAP / crops; the rest is per modality."""
    yaml_path = tmp_path / "config.yaml"
    yaml_path.write_text(
        "MVIT:\n  SIZE: B\n  PATCH_OVERLAP: true\n  DEPTH: 3\n"
        "VIDEO:\n  N_FRAMES: 16\n  CROP_SIZE: [224, 224]\n"
        "TEST:\n  CHECKPOINT_FILE_PATH: weights.pyth\n")
    for modality in ("video", "audio"):
        schema = load_json(f"schema_{modality}_B.json")
        with torch.device("meta"):
            net = build_from_authors_yaml(yaml_path, modality)
        want = {e["key"]: e["shape"] for e in schema["state_dict"]}
        for change in schema["if_patch_overlap_true"]["changed_keys"]:
            want[change["key"]] = change["shape_overlap_true"]
        assert _shapes(net) == want
        assert net.spec.input_size[-2:] == ((224, 224) if modality == "video" else (96, 288))
