"""The work of each stage, on arrays and segment lists; the pipeline handles files and caching.

Audio is mono float32 at the working rate ``cfg.sample_rate`` throughout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dubclr.counterfactual.align import align_segment
from dubclr.counterfactual.audio import fit_length, read_wav
from dubclr.counterfactual.config import CounterfactualConfig
from dubclr.counterfactual.master import master_segment
from dubclr.counterfactual.preflight import stems_folder
from dubclr.counterfactual.segments import (
    REVOICED,
    Segment,
    cue_lines,
    find_sidecar,
    read_subtitles,
    require_sidecar,
)
from dubclr.counterfactual.voice import praat_match
from dubclr.media import resample


def span(seg: Segment, rate: int) -> tuple[int, int]:
    """Sample range of a segment (start, stop)."""
    start = int(round(seg.start * rate))
    return start, max(start, int(round(seg.end * rate)))


# -- separate ------------------------------------------------------------------------------

def separate(video: Path, mixture: np.ndarray, source: str, cfg: CounterfactualConfig
             ) -> tuple[np.ndarray, np.ndarray, dict]:
    """(speech, background, info), both as long as ``mixture``."""
    rate, n = cfg.sample_rate, len(mixture)
    if cfg.separate.backend == "stems":
        folder = stems_folder(video)
        tracks = []
        for name in (f"speech.{source}.wav", "background.wav"):
            samples, stem_rate = read_wav(folder / name)
            tracks.append(fit_length(resample(samples, stem_rate, rate), n))
        return tracks[0], tracks[1], {"stems": str(folder)}
    if cfg.separate.backend == "vad-gate":
        from dubclr.counterfactual.vad import gate_separate, speech_regions

        regions = speech_regions(mixture, rate, cfg.separate.vad)
        speech, background = gate_separate(mixture, rate, regions, cfg.separate.gate_threshold_db)
        return speech, background, {"vad": cfg.separate.vad,
                                    "regions": [[round(a, 3), round(b, 3)] for a, b in regions]}
    from dubclr.counterfactual.backends.demucs_separator import separate as demucs_separate

    speech, background = demucs_separate(mixture, rate, cfg.separate)
    return speech, background, {"demucs_model": cfg.separate.demucs_model}


def reference_speech(video: Path, source: str, rate: int, length: int) -> np.ndarray | None:
    """The clean original speech where it is known (a ``stems/<title>/speech.<lang>.wav``, as
    the synthetic corpus has), for measuring leakage; None elsewhere."""
    path = stems_folder(video) / f"speech.{source}.wav"
    if not path.is_file():
        return None
    samples, stem_rate = read_wav(path)
    return fit_length(resample(samples, stem_rate, rate), length)


# -- transcribe / translate ----------------------------------------------------------------

def transcribe(video: Path, speech: np.ndarray, source: str, cfg: CounterfactualConfig
               ) -> list[Segment]:
    backend = cfg.transcribe.backend
    if backend == "subtitles":
        return read_subtitles(require_sidecar(video, source))
    if backend == "pocketsphinx":
        from dubclr.counterfactual.backends.sphinx_asr import transcribe as sphinx
        from dubclr.counterfactual.vad import speech_regions

        return sphinx(speech, cfg.sample_rate, speech_regions(speech, cfg.sample_rate, cfg.separate.vad))
    from dubclr.counterfactual.backends.whisper_asr import transcribe as whisper

    return whisper(speech, cfg.sample_rate, source, cfg.transcribe)


def translate(video: Path, segments: list[Segment], source: str, target: str,
              cfg: CounterfactualConfig) -> tuple[list[Segment], dict]:
    """The dub's lines in ``target`` (timed) and how they were made (``translation``)."""
    backend = cfg.translate.backend
    if backend == "none":  # speech-to-speech: the synthesizer reads the source audio
        return [Segment(s.start, s.end, "") for s in segments], {"translation": "speech-to-speech"}
    if backend == "subtitles":
        sidecar = find_sidecar(video, target)
        if sidecar is None and cfg.translate.missing_subtitles == "revoice":
            return list(segments), {"translation": REVOICED}
        cues = read_subtitles(sidecar or require_sidecar(video, target))
        return cue_lines(segments, cues), {"translation": "subtitles", "subtitles": str(sidecar)}
    texts = [s.text for s in segments]
    if backend == "nllb":
        from dubclr.counterfactual.backends.nllb_mt import translate as nllb

        out = nllb(texts, source, target, cfg.translate)
    else:
        from dubclr.counterfactual.backends.seamless_m4t import translate_text

        out = translate_text(texts, source, target, cfg.translate.seamless_model, cfg.translate.device)
    return [Segment(s.start, s.end, t) for s, t in zip(segments, out)], {"translation": backend}


# -- per-segment audio stages ----------------------------------------------------------------

def synthesize(seg: Segment, source_speech: np.ndarray, target: str,
               cfg: CounterfactualConfig) -> np.ndarray:
    """Speech for one segment at the working rate (its own natural length)."""
    sc = cfg.synthesize
    if sc.backend == "espeak":
        from dubclr.synth.tts import synthesize as espeak

        if not seg.text.strip():
            return np.zeros(0, np.float32)
        samples, rate = espeak(seg.text, target, voice=sc.espeak_voice or None,
                               pitch=sc.espeak_pitch, rate=sc.espeak_rate)
    else:
        from dubclr.counterfactual.backends import seamless_m4t

        if cfg.translate.backend == "none":
            samples, rate = seamless_m4t.speech_to_speech(source_speech, cfg.sample_rate, target,
                                                          sc.seamless_model, sc.device)
        else:
            if not seg.text.strip():
                return np.zeros(0, np.float32)
            samples, rate = seamless_m4t.text_to_speech(seg.text, target, sc.seamless_model, sc.device)
    return resample(samples, rate, cfg.sample_rate)


def align(samples: np.ndarray, seg: Segment, cfg: CounterfactualConfig) -> tuple[np.ndarray, dict]:
    start, stop = span(seg, cfg.sample_rate)
    return align_segment(samples, cfg.sample_rate, stop - start, cfg.align)


def voice_match(samples: np.ndarray, reference: np.ndarray, cfg: CounterfactualConfig
                ) -> tuple[np.ndarray, dict]:
    if cfg.voice.backend == "none" or not np.any(samples):
        return samples, {"voice": "unchanged"}
    if cfg.voice.backend == "lvc":
        from dubclr.counterfactual.backends.lvc_vc import convert

        return convert(samples, reference, cfg.sample_rate, cfg.voice), {"voice": "lvc"}
    return praat_match(samples, reference, cfg.sample_rate, cfg.voice)


def master(samples: np.ndarray, reference: np.ndarray, cfg: CounterfactualConfig
           ) -> tuple[np.ndarray, dict]:
    if not np.any(samples):
        return samples, {"eq": "skipped", "reason": "silent segment"}
    return master_segment(samples, reference, cfg.sample_rate, cfg.master)
