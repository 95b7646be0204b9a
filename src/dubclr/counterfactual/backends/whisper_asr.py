"""Transcription with segment timestamps by Whisper: openai-whisper or faster-whisper.

``transcribe.whisper_model`` is a model name looked up in the implementation's cache, or a local
checkpoint: a ``.pt`` file (openai-whisper) or a CTranslate2 model folder (faster-whisper).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import numpy as np

from dubclr.counterfactual.config import TranscribeConfig
from dubclr.counterfactual.segments import Segment, clip_to_duration
from dubclr.errors import BackendUnavailableError
from dubclr.media import resample


def _impl(cfg: TranscribeConfig) -> str:
    if cfg.whisper_impl != "auto":
        return cfg.whisper_impl
    local = Path(cfg.whisper_model)
    if local.is_file():
        return "openai"  # a .pt checkpoint
    have_faster, have_openai = (importlib.util.find_spec(m) for m in ("faster_whisper", "whisper"))
    if have_faster and (local.is_dir() or not local.exists()):
        return "faster"
    if have_openai:
        return "openai"
    raise BackendUnavailableError(
        "transcribe.backend 'whisper' needs openai-whisper or faster-whisper: "
        "pip install faster-whisper (or openai-whisper); or use transcribe.backend=subtitles")


def _openai_weights(name: str) -> Path:
    import whisper

    if Path(name).is_file():
        return Path(name)
    if name not in whisper._MODELS:
        raise BackendUnavailableError(f"transcribe.whisper_model {name!r} is neither a Whisper "
                                      f"model ({', '.join(whisper._MODELS)}) nor a .pt file")
    root = Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
    return root / os.path.basename(whisper._MODELS[name])


def _faster_model_dir(name: str) -> str:
    from faster_whisper.utils import download_model

    if Path(name).is_dir():
        if not (Path(name) / "model.bin").is_file():
            raise BackendUnavailableError(f"transcribe.whisper_model {name}: not a CTranslate2 "
                                          "model folder (no model.bin)")
        return name
    return download_model(name, local_files_only=True)


def require(cfg: TranscribeConfig) -> None:
    impl = _impl(cfg)
    if impl == "openai":
        try:
            path = _openai_weights(cfg.whisper_model)
        except ImportError:
            raise BackendUnavailableError("transcribe.whisper_impl 'openai' needs openai-whisper: "
                                          "pip install openai-whisper") from None
        if not path.is_file():
            raise BackendUnavailableError(
                f"Whisper model {cfg.whisper_model!r} is not in its cache ({path}). Fetch it once "
                f"with: python -c \"import whisper; whisper.load_model('{cfg.whisper_model}')\"")
        return
    if importlib.util.find_spec("faster_whisper") is None:
        raise BackendUnavailableError("transcribe.whisper_impl 'faster' needs faster-whisper: "
                                      "pip install faster-whisper")
    try:
        _faster_model_dir(cfg.whisper_model)
    except BackendUnavailableError:
        raise
    except Exception as exc:
        raise BackendUnavailableError(
            f"faster-whisper model {cfg.whisper_model!r} is not in the Hugging Face cache "
            f"({type(exc).__name__}). Fetch it once with: python -c \"from faster_whisper import "
            f"WhisperModel; WhisperModel('{cfg.whisper_model}')\"") from None


@functools.lru_cache(maxsize=2)
def _model(impl: str, name: str, device: str):
    if impl == "openai":
        import whisper

        return whisper.load_model(str(_openai_weights(name)), device=device)
    from faster_whisper import WhisperModel

    compute = "int8" if device == "cpu" else "float16"
    return WhisperModel(_faster_model_dir(name), device=device, compute_type=compute)


def transcribe(speech: np.ndarray, rate: int, language: str, cfg: TranscribeConfig) -> list[Segment]:
    impl = _impl(cfg)
    audio = resample(speech, rate, 16000)
    model = _model(impl, cfg.whisper_model, cfg.device)
    if impl == "openai":
        result = model.transcribe(audio, language=language, task="transcribe",
                                  fp16=cfg.device != "cpu")
        found = [(s["start"], s["end"], s["text"]) for s in result["segments"]]
    else:
        segments, _ = model.transcribe(audio, language=language, task="transcribe")
        found = [(s.start, s.end, s.text) for s in segments]
    return clip_to_duration((Segment(a, b, t) for a, b, t in found), len(speech) / rate)
