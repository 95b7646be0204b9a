"""VAD and gating, mastering, voice matching and remixing on signals with known content."""

import numpy as np
import pytest
from scipy.signal import lfilter, sawtooth

from dubclr.counterfactual.config import MasterConfig, VoiceConfig
from dubclr.counterfactual.master import loudness_lufs, master_segment
from dubclr.counterfactual.remix import place_segments, remix
from dubclr.counterfactual.vad import energy_regions, gate_separate, speech_regions
from dubclr.counterfactual.voice import pitch_median, praat_match

RATE = 16000


def voiced(seconds: float, f0: float, amp: float, rate: int = RATE) -> np.ndarray:
    """A buzzy vowel-like sound: a sawtooth at f0 with slow vibrato through a one-pole filter."""
    t = np.arange(int(seconds * rate)) / rate
    x = lfilter([1.0], [1.0, -0.9], sawtooth(2 * np.pi * f0 * t + 0.3 * np.sin(2 * np.pi * 3 * t)))
    return (amp * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def scene():
    """3 s of noise with speech (espeak-ng) from 1.0 to ~2.0 s."""
    from dubclr.media import resample
    from dubclr.synth.tts import synthesize

    rng = np.random.default_rng(0)
    background = (0.01 * rng.standard_normal(3 * RATE)).astype(np.float32)
    words, rate = synthesize("Where are my keys?", "en")
    words = resample(words, rate, RATE)[: RATE]
    speech = np.zeros_like(background)
    speech[RATE: RATE + len(words)] = 0.5 * words / np.abs(words).max()
    return speech, background


@pytest.mark.parametrize("method", ["silero", "energy"])
def test_vad_finds_the_speech(scene, method):
    speech, background = scene
    regions = speech_regions(speech + background, RATE, method)
    assert regions, "no speech found"
    start, end = regions[0][0], regions[-1][1]
    assert 0.7 < start < 1.2 and 1.6 < end < 2.4


def test_energy_vad_finds_nothing_in_noise():
    noise = (0.01 * np.random.default_rng(1).standard_normal(2 * RATE)).astype(np.float32)
    assert energy_regions(noise, RATE) == []


def test_gate_splits_mixture_into_parts_that_sum_back(scene):
    speech, background = scene
    mixture = speech + background
    est_speech, est_background = gate_separate(mixture, RATE, [(0.9, 2.1)])
    np.testing.assert_allclose(est_speech + est_background, mixture, atol=1e-5)
    inside = slice(int(1.1 * RATE), int(1.9 * RATE))
    outside = slice(0, int(0.8 * RATE))
    # the background estimate keeps the noise level, not the speech
    assert np.std(est_background[inside]) < 3 * np.std(background[inside])
    assert np.std(est_speech[inside]) > 0.5 * np.std(speech[inside])
    assert np.std(est_speech[outside]) < 0.1 * np.std(background[outside])


def test_master_matches_loudness_of_the_original():
    reference = voiced(1.0, 120, 0.3)
    quiet = voiced(1.0, 200, 0.02)
    out, info = master_segment(quiet, reference, RATE, MasterConfig())
    assert loudness_lufs(out, RATE) == pytest.approx(loudness_lufs(reference, RATE), abs=0.5)
    assert info["gain_db"] > 15


def test_praat_moves_pitch_to_the_original_speaker():
    reference, synth = voiced(1.0, 110, 0.3), voiced(1.0, 220, 0.3)
    out, info = praat_match(synth, reference, RATE, VoiceConfig())
    assert len(out) == len(synth)
    assert pitch_median(out, RATE) == pytest.approx(pitch_median(reference, RATE), rel=0.05)
    assert 1 / 1.25 <= info["formant_ratio"] <= 1.25


def test_remix_places_segments_and_never_clips():
    background = np.full(RATE, 0.6, np.float32)
    speech = place_segments([(100, np.full(50, 0.9, np.float32)), (RATE - 10, np.ones(30, np.float32))],
                            RATE)
    assert speech[99] == 0 and speech[100] == pytest.approx(0.9) and speech[150] == 0
    assert speech[-1] == 1.0  # cut at the end, not wrapped or dropped
    mix, info = remix(background, speech, peak_dbfs=-1.0)
    assert len(mix) == RATE
    assert np.abs(mix).max() <= 10 ** (-1 / 20) + 1e-6
    assert info["mix_gain_db"] < 0
