"""Real tiny models (random init, seeded) for the evaluation tests: they test the pipeline,
not accuracy."""

import pytest
import torch

from dubclr.models.av import build_model
from dubclr.models.config import AudioTowerConfig, HeadConfig, ModelConfig, VideoTowerConfig


def tiny_config(video=True, audio=True, channels=1) -> ModelConfig:
    return ModelConfig(
        video=VideoTowerConfig(arch="mvit", preset="tiny", frames=8, crop=40) if video else None,
        audio=AudioTowerConfig(arch="mvit", preset="tiny", mel_bins=24, mel_frames=72,
                               channels=channels) if audio else None,
        head=HeadConfig(hidden_dim=32, out_dim=16))


def make_tiny_model(seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(tiny_config(**kw)).eval()


@pytest.fixture
def tiny_model():
    """``tiny_model(seed)``: a tiny audiovisual model (random init, seeded)."""
    return make_tiny_model


# what `dubclr train` records with default data settings (the towers give the rest)
RECORDED_DEFAULTS = {"clip_seconds": 3.0, "video": {"fps": 25.0}, "audio": {"sample_rate": 48000}}


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny audiovisual model saved in our checkpoint format."""
    from dubclr.models.checkpoint import save_model

    out = tmp_path_factory.mktemp("ckpt") / "tiny_av"
    save_model(make_tiny_model(0), out, provenance={"note": "random init, evaluation tests",
                                                    "data": RECORDED_DEFAULTS})
    return out


@pytest.fixture(scope="session")
def tiny_audio_checkpoint(tmp_path_factory):
    """Audio tower only, two channels (the controlled study's pseudo-stereo input)."""
    from dubclr.models.checkpoint import save_model

    out = tmp_path_factory.mktemp("ckpt") / "tiny_stereo_audio"
    save_model(make_tiny_model(1, video=False, channels=2), out,
               provenance={"data": RECORDED_DEFAULTS})
    return out


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """A small folder: a two-track MKV (4.6 s), a nested 44.1 kHz WAV (2 s), a title with a
    French sidecar, and a corrupt file."""
    import numpy as np

    from dubclr.media.writer import AudioTrack, write_audio, write_title

    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)

    def frames(n, h=48, w=64):
        base = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
        return [np.roll(base, 2 * i, axis=1) for i in range(n)]

    def tone(freq, seconds, sr=48000):
        t = np.arange(int(seconds * sr)) / sr
        return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)

    write_title(root / "a.mkv", frames(115), 25,
                [AudioTrack(tone(220, 4.6), 48000, "en", default=True),
                 AudioTrack(tone(330, 4.6), 48000, "es")])
    write_audio(root / "sub" / "b.wav", tone(440, 2.0, 44100), 44100)
    write_title(root / "sub" / "c.mkv", frames(40), 25, [AudioTrack(tone(550, 1.6), 48000, "en",
                                                                    default=True)])
    write_audio(root / "sub" / "c.fr.flac", tone(660, 1.6), 48000)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    return root
