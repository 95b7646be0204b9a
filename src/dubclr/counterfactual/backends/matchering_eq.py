"""EQ and level matching with matchering (the paper's step 6), at its 44.1 kHz, resampled back."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from dubclr.counterfactual.audio import fit_length, read_wav, write_wav
from dubclr.counterfactual.backends.hub import require_package
from dubclr.media import resample

_RATE = 44100


def require() -> None:
    require_package("matchering", "matchering", "master.eq 'matchering'")


def matchering_match(samples: np.ndarray, reference: np.ndarray, rate: int) -> np.ndarray:
    import matchering

    with tempfile.TemporaryDirectory(prefix="dubclr-mg-") as tmp:
        target, ref, out = Path(tmp, "target.wav"), Path(tmp, "ref.wav"), Path(tmp, "out.wav")
        write_wav(target, np.stack([resample(samples, rate, _RATE)] * 2, axis=1), _RATE)
        write_wav(ref, np.stack([resample(reference, rate, _RATE)] * 2, axis=1), _RATE)
        matchering.process(target=str(target), reference=str(ref),
                           results=[matchering.pcm24(str(out))])
        matched, out_rate = read_wav(out)
    return fit_length(resample(matched, out_rate, rate), len(samples))
