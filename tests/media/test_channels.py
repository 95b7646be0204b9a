"""The one downmix against FFmpeg's own (libswresample through PyAV), layout by layout."""

import av
import numpy as np
import pytest
import torch

from dubclr.media.channels import DEFAULT_LAYOUTS, downmix, downmix_matrix

LAYOUTS = ["stereo", "2.1", "3.0", "4.0", "quad", "5.0", "5.1", "5.1(side)", "6.1"]


def _ffmpeg_stereo_matrix(layout: str) -> np.ndarray:
    """Gain of each input channel in FFmpeg's float stereo downmix, probed one channel at a time."""
    names = [c.name for c in av.AudioLayout(layout).channels]
    n = 2048
    x = np.zeros((len(names), len(names) * n), np.float32)
    for i in range(len(names)):
        x[i, i * n:(i + 1) * n] = 0.25
    frame = av.AudioFrame.from_ndarray(x, format="fltp", layout=layout)
    frame.sample_rate = 48000
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
    y = np.concatenate([f.to_ndarray() for f in resampler.resample(frame) + resampler.resample(None)],
                       axis=1)
    return np.array([[y[o, i * n + n // 2] / 0.25 for i in range(len(names))] for o in range(2)])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stereo_downmix_matches_ffmpeg(layout):
    names = [c.name for c in av.AudioLayout(layout).channels]
    np.testing.assert_allclose(downmix_matrix(names, 2), _ffmpeg_stereo_matrix(layout), atol=2e-4)


def test_51_keeps_the_centre_dialogue():
    rng = np.random.default_rng(0)
    dialogue = rng.standard_normal(48000).astype(np.float32) * 0.1
    wave = rng.standard_normal((6, 48000)).astype(np.float32) * 0.01
    wave[2] += dialogue  # FC
    for out in (1, 2):
        mixed = downmix(wave, out)
        assert mixed.shape == (out, 48000)
        for ch in mixed:
            assert np.corrcoef(ch, dialogue)[0, 1] > 0.9


def test_mono_is_the_mean_of_the_stereo_fold():
    wave = np.random.default_rng(1).standard_normal((8, 100)).astype(np.float32)
    np.testing.assert_allclose(downmix(wave, 1), downmix(wave, 2).mean(axis=0, keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_mono_to_stereo_duplicates_and_stereo_passes_through():
    mono = np.arange(10, dtype=np.float32)[None]
    np.testing.assert_array_equal(downmix(mono, 2), np.stack([mono[0], mono[0]]))
    stereo = np.random.default_rng(2).standard_normal((2, 10)).astype(np.float32)
    assert downmix(stereo, 2) is stereo


def test_torch_batches_and_layout_names():
    wave = torch.randn(3, 6, 50)
    out = downmix(wave, 2, layout=("FL", "FR", "FC", "LFE", "SL", "SR"))
    assert out.shape == (3, 2, 50)
    ref = downmix(wave[0].numpy(), 2)  # default 6-channel layout: BL/BR, same gains as SL/SR
    np.testing.assert_allclose(out[0].numpy(), ref, rtol=1e-5, atol=1e-6)


def test_layout_must_match_and_unknown_counts_need_names():
    with pytest.raises(ValueError, match="names 2 channels"):
        downmix(np.zeros((6, 4), np.float32), 2, layout=("FL", "FR"))
    assert 9 not in DEFAULT_LAYOUTS
    with pytest.raises(ValueError, match="channel names"):
        downmix(np.zeros((9, 4), np.float32), 2)
