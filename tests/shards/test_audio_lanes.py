"""Audio members (fold, store, window) and the choice of decode lane."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from titles import bbb_surround

from dubclr.errors import BackendUnavailableError, ConfigError
from dubclr.media.channels import downmix
from dubclr.shards.audio import decode_flac_window, encode_flac, fold_channels
from dubclr.shards.lanes import choose_lane, cuda_lane_problem

SURROUND = ("FL", "FR", "FC", "LFE", "BL", "BR")


def test_surround_folds_with_the_shared_downmix_and_is_stored_unclipped():
    surround, rate = bbb_surround()
    loud = surround.copy()
    loud[[0, 2, 4], :rate] = 0.95 * np.sin(np.arange(rate) / 20)  # FL, FC, BL in phase
    folded, scale = fold_channels(loud, SURROUND)
    np.testing.assert_allclose(folded, downmix(loud, 2, SURROUND), atol=1e-6)
    assert np.abs(folded).max() > 1.0 and scale == pytest.approx(1 + 2 ** 0.5)
    stored = decode_flac_window(encode_flac(folded, rate, scale), 0, folded.shape[1], scale=scale)
    assert np.abs(stored - folded).max() <= scale * 2 ** -16 + 1e-6  # + float32 rounding


def test_mono_and_stereo_are_kept_as_they_are():
    wave = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 4800)).astype(np.float32)
    assert fold_channels(wave, ("FC",)) == (wave, 1.0)


@pytest.mark.parametrize("first, count", [(0, 48000), (12345, 9000), (-100, 300), (47900, 300)])
def test_window_reads_are_sample_exact_and_zero_outside(first, count):
    wave = np.random.default_rng(1).uniform(-0.9, 0.9, (2, 48000)).astype(np.float32)
    data = encode_flac(wave, 48000)
    got = decode_flac_window(data, first, count)
    expected = np.zeros((2, count), np.float32)
    lo, hi = max(first, 0), min(first + count, 48000)
    expected[:, lo - first:hi - first] = wave[:, lo:hi]
    assert got.shape == (2, count)
    assert np.abs(got - expected).max() <= 2 ** -16


def test_cpu_lane_is_chosen_without_cuda_or_torchcodec():
    if cuda_lane_problem() is None:
        pytest.skip("this machine can decode on the GPU; the CPU-only choice is not testable")
    assert choose_lane("cpu") == "cpu"
    assert choose_lane("auto") == "cpu"
    with pytest.raises(BackendUnavailableError, match="decode_lane='cuda' cannot run: .*cpu"):
        choose_lane("cuda")
    with pytest.raises(ConfigError, match="auto, cpu, cuda"):
        choose_lane("gpu")


def test_cuda_problem_names_what_is_missing():
    problem = cuda_lane_problem()
    if torch.cuda.is_available():
        assert problem is None or "torchcodec" in problem
    else:
        assert "no CUDA device" in problem
