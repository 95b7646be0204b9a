"""Offline English transcription with PocketSphinx (its wheel ships the en-us model); one
segment per speech region found by the VAD."""

from __future__ import annotations

import numpy as np

from dubclr.counterfactual.backends.hub import require_package
from dubclr.counterfactual.segments import Segment
from dubclr.errors import BackendUnavailableError
from dubclr.media import resample


def require(language: str) -> None:
    require_package("pocketsphinx", "pocketsphinx", "transcribe.backend 'pocketsphinx'")
    if language != "en":
        raise BackendUnavailableError(
            f"transcribe.backend 'pocketsphinx' has only its English model; the source language "
            f"is {language!r}: use transcribe.backend=whisper or subtitles")


def transcribe(speech: np.ndarray, rate: int, regions: list[tuple[float, float]]) -> list[Segment]:
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=16000)
    audio = resample(speech, rate, 16000)
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    out = []
    for start, end in regions:
        decoder.start_utt()
        decoder.process_raw(pcm[int(start * 16000): int(end * 16000)].tobytes(), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        if hyp is not None and hyp.hypstr.strip():
            out.append(Segment(start, end, hyp.hypstr.strip()))
    return out
