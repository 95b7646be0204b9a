"""SeamlessM4T through transformers: text translation, text-to-speech and speech-to-speech
translation (the paper's step 3). Output speech is 16 kHz."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from dubclr.counterfactual.backends.hub import require_hf_model
from dubclr.counterfactual.languages import seamless_code
from dubclr.errors import DubclrError
from dubclr.media import resample

_RATE = 16000
MIN_SPEECH_S = 0.05  # the feature extractor needs a few frames


class SpeechInputError(DubclrError):
    """A speech segment too short (or empty) for speech-to-speech translation."""


def require(repo: str, why: str) -> None:
    require_hf_model(repo, why)


@functools.lru_cache(maxsize=1)
def _load(repo: str, device: str):
    from transformers import AutoProcessor, SeamlessM4TModel, SeamlessM4Tv2Model

    path = require_hf_model(repo, "the seamless backend")
    cls = SeamlessM4Tv2Model if "v2" in repo else SeamlessM4TModel
    return AutoProcessor.from_pretrained(path), cls.from_pretrained(path).to(device).eval()


def audio_keyword(processor) -> str:
    """The processor's name for its audio argument: 'audio' (transformers >= 4.46) or 'audios'."""
    params = inspect.signature(processor.__call__).parameters
    return "audio" if "audio" in params or "audios" not in params else "audios"


def translate_text(texts: list[str], source: str, target: str, repo: str, device: str) -> list[str]:
    import torch

    if not texts:
        return []
    processor, model = _load(repo, device)
    inputs = processor(text=texts, src_lang=seamless_code(source), return_tensors="pt",
                       padding=True).to(device)
    with torch.inference_mode():
        out = model.generate(**inputs, tgt_lang=seamless_code(target), generate_speech=False)
    return [t.strip() for t in processor.batch_decode(out[0], skip_special_tokens=True)]


def _speech(out) -> np.ndarray:
    waveform = out[0] if isinstance(out, (tuple, list)) else out.waveform
    return waveform[0].detach().float().cpu().numpy().reshape(-1)


def text_to_speech(text: str, language: str, repo: str, device: str) -> tuple[np.ndarray, int]:
    import torch

    processor, model = _load(repo, device)
    code = seamless_code(language)
    inputs = processor(text=text, src_lang=code, return_tensors="pt").to(device)
    with torch.inference_mode():
        out = model.generate(**inputs, tgt_lang=code)
    return _speech(out), int(model.config.sampling_rate)


def speech_to_speech(speech: np.ndarray, rate: int, target: str, repo: str,
                     device: str) -> tuple[np.ndarray, int]:
    import torch

    if len(speech) < MIN_SPEECH_S * rate:
        raise SpeechInputError(f"speech-to-speech: a {len(speech) / rate:.3f} s speech segment is "
                               f"too short to translate (at least {MIN_SPEECH_S} s)")
    processor, model = _load(repo, device)
    audio = resample(speech, rate, _RATE)
    inputs = processor(**{audio_keyword(processor): audio}, sampling_rate=_RATE,
                       return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs.to(device), tgt_lang=seamless_code(target))
    return _speech(out), int(model.config.sampling_rate)
