"""The device-side transforms against the authors' front-end fixtures."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dubclr.config import from_dict
from dubclr.data.config import DataConfig
from dubclr.data.transforms import AudioFrontend, VideoTransform, build_transforms
from dubclr.media import resample_indices, uniform_subsample_indices

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mvit_parity"


# float32 log-mel vs the fixture, in dB. The STFT and the mel matmul sum in an order that
# depends on the CPU's vector width: against a float64 recomputation, float32 is off by up to
# 3.3e-4 dB here and the fixture by 2.2e-4 dB (9 of 27,648 values differed by 2.3e-4 dB on
# another x86-64 machine). A real error is far larger: a 0.1 % gain error moves values by
# 8.7e-3 dB, a symmetric window by 1.4 dB, hop 500 by 44 dB.
LOGMEL_ATOL_DB = 2e-3


def test_audio_frontend_reproduces_the_reference_logmel():
    ref = load_file(FIXTURES / "frontend_audio.safetensors")
    frontend = AudioFrontend()
    assert torch.equal(frontend.mel_fb, ref["mel_fb"])
    wave = (ref["pcm_int16"].float() / 32768.0).view(1, 1, -1)  # 2 s: padded to 3 s inside
    out = frontend(wave)
    assert out.shape == (1, 1, 96, 288)
    torch.testing.assert_close(out[0], ref["logmel"], atol=LOGMEL_ATOL_DB, rtol=0)
    # the tolerance still sees a small real error: the same audio 0.1 % louder
    louder = frontend(wave * 1.001)[0]
    assert (louder - ref["logmel"]).abs().max() > LOGMEL_ATOL_DB


def test_audio_frontend_channels_and_length():
    wave = torch.randn(2, 2, 200_000) * 0.1
    mono = AudioFrontend(channels=1)(wave)
    stereo = AudioFrontend(channels=2)(wave)
    assert mono.shape == (2, 1, 96, 288) and stereo.shape == (2, 2, 96, 288)
    # mono input is duplicated for a 2-channel model
    dup = AudioFrontend(channels=2)(wave[:, :1])
    torch.testing.assert_close(dup[:, 0], dup[:, 1])
    # averaging happens on the waveform, before the mel
    torch.testing.assert_close(mono, AudioFrontend()(wave.mean(1, keepdim=True)))


def test_audio_masking_is_bounded_and_seeded():
    wave = torch.randn(8, 1, 144_000) * 0.1 + 0.5
    frontend = AudioFrontend(train=True, mask_value=-1000.0)
    a = frontend(wave, generator=torch.Generator().manual_seed(3))
    b = frontend(wave, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    clean = AudioFrontend()(wave)
    masked = a == -1000.0
    assert torch.equal(a[~masked], clean[~masked])
    rows = masked.all(dim=3).sum(dim=2).flatten()  # fully masked mel bins per example
    cols = masked.all(dim=2).sum(dim=2).flatten()  # fully masked frames per example
    assert rows.max() <= 48 and cols.max() <= 144
    assert masked.any()  # 8 examples: some mask is non-empty


def test_video_eval_reproduces_the_reference_five_crops():
    ref = load_file(FIXTURES / "frontend_video_small.safetensors")
    clip = ref["clip_uint8"]  # (C, T, H, W), 30 fps
    resampled = resample_indices(clip.shape[1], 30.0, 25.0)
    assert resampled.tolist() == ref["resample_idx"].tolist()
    sub = uniform_subsample_indices(len(resampled), 4)
    assert sub.tolist() == ref["subsample_idx"].tolist()
    frames = clip[:, torch.from_numpy(resampled[sub])]
    five = VideoTransform(train=False, crop=12, eval_short_side=16, crops="five")(frames[None])
    assert five.shape == (1, 5, 3, 4, 12, 12)
    torch.testing.assert_close(five[0], ref["five_crops"], atol=1e-6, rtol=0)
    center = VideoTransform(train=False, crop=12, eval_short_side=16)(frames[None])
    torch.testing.assert_close(center[0], ref["five_crops"][4], atol=1e-6, rtol=0)


def test_video_train_random_scale_and_crop():
    video = torch.randint(0, 256, (3, 3, 4, 40, 60), dtype=torch.uint8)
    tf = VideoTransform(train=True, train_scale=(20, 32), crop=16)
    a = tf(video, generator=torch.Generator().manual_seed(0))
    b = tf(video, generator=torch.Generator().manual_seed(0))
    assert a.shape == (3, 3, 4, 16, 16) and a.dtype == torch.float32
    assert torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    c = tf(video, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a, c)


def test_video_transform_rejects_wrong_layout():
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        VideoTransform()(torch.zeros(2, 4, 3, 8, 8, dtype=torch.uint8))


def test_build_transforms_from_config():
    cfg = from_dict(DataConfig, {"audio": {"channels": 2}, "video": {"crop": 200}})
    video_tf, audio_tf = build_transforms(cfg, train=True)
    assert video_tf.train_mode and video_tf.crop == 200
    assert audio_tf.channels == 2 and audio_tf.train_mode


def test_training_transforms_draw_from_their_own_generator_only():
    from dubclr.data.transforms import ViewTransforms, seeded_generator

    g = torch.Generator().manual_seed(0)
    video = torch.randint(0, 256, (2, 3, 4, 72, 96), generator=g, dtype=torch.uint8)
    audio = torch.randn(2, 1, 48000, generator=g)

    def views(seed):
        tf = ViewTransforms(VideoTransform(train=True, train_scale=(64, 80), crop=48),
                            AudioFrontend(train=True), generator=seeded_generator(seed, 0))
        return tf("video_p", video), tf("video_s", video), tf("audio_p", audio)

    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = views(1)
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is left alone
    assert all(torch.equal(a, b) for a, b in zip(first, views(1)))  # its generator decides
    assert not torch.equal(first[0], first[1])  # each view its own draws
    assert not all(torch.equal(a, b) for a, b in zip(first, views(2)))
