import numpy as np
import pytest

from dubclr.counterfactual.align import align_segment
from dubclr.counterfactual.config import AlignConfig
from dubclr.counterfactual.stretch import wsola_stretch
from dubclr.errors import ConfigError

RATE = 16000


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spectrum)])


@pytest.mark.parametrize("factor", [0.5, 0.7, 1.3, 2.0])
def test_wsola_changes_duration_and_keeps_pitch(factor):
    x = tone(1.0, 220.0)
    y = wsola_stretch(x, factor, RATE)
    assert len(y) == round(len(x) * factor)
    assert dominant_frequency(y) == pytest.approx(220.0, abs=2.0)
    # a steady tone stays steady: no holes or doubled frames in the middle
    middle = y[len(y) // 4: 3 * len(y) // 4]
    frames = middle[: len(middle) // 400 * 400].reshape(-1, 400)
    level = np.sqrt((frames ** 2).mean(axis=1))
    assert level.min() > 0.8 * level.max()


def test_align_within_bounds_fits_exactly():
    out, info = align_segment(tone(1.0), RATE, int(1.4 * RATE), AlignConfig())
    assert len(out) == int(1.4 * RATE)
    assert info["action"] == "stretch" and not info["flagged"]
    assert info["ratio_applied"] == pytest.approx(1.4, abs=1e-3)


def test_align_too_short_is_stretched_to_bound_then_padded():
    target = int(3.0 * RATE)  # needs 3x, bound is 2x
    out, info = align_segment(tone(1.0), RATE, target, AlignConfig())
    assert len(out) == target
    assert info["action"] == "pad" and info["flagged"]
    assert info["ratio_applied"] == 2.0 and info["ratio_needed"] == pytest.approx(3.0, abs=1e-3)
    assert np.abs(out[int(2.05 * RATE):]).max() == 0.0  # the padding is silence
    assert np.abs(out[: int(1.9 * RATE)]).mean() > 0.1


def test_align_too_long_is_compressed_to_bound_then_trimmed():
    target = int(0.4 * RATE)  # needs 0.4x, bound is 0.5x
    out, info = align_segment(tone(1.0), RATE, target, AlignConfig())
    assert len(out) == target
    assert info["action"] == "trim" and info["flagged"] and info["ratio_applied"] == 0.5


def test_align_trims_synthesis_silence_first():
    x = np.concatenate([np.zeros(RATE // 2, np.float32), tone(1.0), np.zeros(RATE // 2, np.float32)])
    _, info = align_segment(x, RATE, RATE, AlignConfig())
    assert info["ratio_needed"] == pytest.approx(1.0, abs=0.03)


def test_align_bounds_validated():
    with pytest.raises(ConfigError, match="min_ratio"):
        AlignConfig(min_ratio=1.5, max_ratio=2.0)
