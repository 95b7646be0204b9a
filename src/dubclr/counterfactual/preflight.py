"""Checks made before any work: every chosen backend is usable, every title has its inputs."""

from __future__ import annotations

from pathlib import Path

from dubclr.counterfactual.config import CounterfactualConfig
from dubclr.counterfactual.languages import check_languages
from dubclr.counterfactual.segments import SubtitleError, find_sidecar
from dubclr.errors import BackendUnavailableError, ConfigError


def check_backends(cfg: CounterfactualConfig, source_languages: set[str]) -> None:
    """Check every chosen backend; raise one BackendUnavailableError listing all that cannot
    run here (a user fixes them in one go rather than one per run)."""
    check_languages(cfg.languages)
    problems = []
    for check in _backend_checks(cfg, source_languages):
        try:
            check()
        except BackendUnavailableError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise BackendUnavailableError(problems[0])
    if problems:
        listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        raise BackendUnavailableError(f"{len(problems)} chosen backends cannot run here (nothing "
                                      f"was processed):\n{listed}")


def _backend_checks(cfg: CounterfactualConfig, source_languages: set[str]) -> list:
    """One no-argument check per chosen backend (each imports its module lazily)."""
    from dubclr.counterfactual.backends import hub

    checks = []
    sep, tr = cfg.separate, cfg.transcribe
    if sep.backend == "demucs":
        checks.append(lambda: _backend("demucs_separator").require(sep))
    if (sep.backend == "vad-gate" or tr.backend == "pocketsphinx") and sep.vad == "silero":
        from dubclr.counterfactual.vad import require_silero
        checks.append(require_silero)
    if tr.backend == "whisper":
        checks.append(lambda: _backend("whisper_asr").require(tr))
    elif tr.backend == "pocketsphinx":
        checks += [lambda lang=lang: _backend("sphinx_asr").require(lang)
                   for lang in sorted(source_languages)]
    if cfg.translate.backend == "nllb":
        checks.append(lambda: _backend("nllb_mt").require(cfg.translate))
    elif cfg.translate.backend == "seamless":
        checks.append(lambda: _backend("seamless_m4t").require(
            cfg.translate.seamless_model, "translate.backend 'seamless'"))
    if cfg.synthesize.backend == "seamless":
        checks.append(lambda: _backend("seamless_m4t").require(
            cfg.synthesize.seamless_model, "synthesize.backend 'seamless'"))
    else:
        checks.append(lambda: _require_espeak(cfg.languages))
    if cfg.voice.backend == "lvc":
        checks.append(lambda: _backend("lvc_vc").require(cfg.voice))
    elif cfg.voice.backend == "praat":
        checks.append(lambda: hub.require_package("parselmouth", "praat-parselmouth",
                                                  "voice.backend 'praat'"))
    if cfg.master.eq == "matchering":
        checks.append(lambda: _backend("matchering_eq").require())
    return checks


def _backend(name: str):
    import importlib

    return importlib.import_module(f"dubclr.counterfactual.backends.{name}")


def _require_espeak(languages: list[str]) -> None:
    """Speak a word in each language: the one check that espeak-ng really has the voice."""
    from dubclr.synth.tts import synthesize

    for lang in languages:
        try:
            samples, _ = synthesize("a", lang)
        except BackendUnavailableError:
            raise
        except Exception as exc:  # espeak-ng reports an unknown voice as an error code
            samples, why = None, exc
        if samples is None or len(samples) == 0:
            raise BackendUnavailableError(
                f"synthesize.backend 'espeak': espeak-ng cannot speak {lang!r}"
                f"{f' ({why})' if samples is None else ''}; use synthesize.backend=seamless for it")


def stems_folder(video: Path) -> Path:
    return video.parent / "stems" / video.stem


def check_title_inputs(cfg: CounterfactualConfig, video: Path, source: str) -> list[str]:
    """What this title lacks for the chosen backends (empty when it is ready)."""
    missing = []
    if cfg.separate.backend == "stems":
        folder = stems_folder(video)
        for name in ("background.wav", f"speech.{source}.wav"):
            if not (folder / name).is_file():
                missing.append(str(folder / name))
    if cfg.transcribe.backend == "subtitles" and find_sidecar(video, source) is None:
        missing.append(f"{video.with_suffix('')}.{source}.srt")
    if cfg.translate.backend == "subtitles" and cfg.translate.missing_subtitles == "fail":
        for lang in cfg.languages:
            if lang != source and find_sidecar(video, lang) is None:
                missing.append(f"{video.with_suffix('')}.{lang}.srt")
    return missing


def check_inputs(cfg: CounterfactualConfig, titles: list[tuple[Path, str]]) -> None:
    problems = []
    for video, source in titles:
        problems += check_title_inputs(cfg, video, source)
    if problems:
        shown = "\n  ".join(problems[:10]) + ("\n  ..." if len(problems) > 10 else "")
        kind = SubtitleError if any(p.endswith(".srt") for p in problems) else ConfigError
        raise kind(f"{len(problems)} input file(s) the chosen backends need are missing "
                   f"(nothing was processed):\n  {shown}\nAdd them, or pick other backends "
                   f"(separate.backend=vad-gate, transcribe.backend=whisper, ...)")
