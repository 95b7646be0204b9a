"""`dubclr doctor`: is this machine ready? Python, torch and devices, PyAV/FFmpeg and the codecs
dubclr needs, the espeak-ng TTS, and which optional backends are installed (and how to add
the missing ones)."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import platform
import sys

from dubclr import __version__

# codec name, needs encoding, needs decoding, what for
CODECS = (
    ("h264", False, True, "decode titles"),
    ("libx264", True, False, "write corpus and counterfactual titles"),
    ("aac", True, True, "common movie audio"),
    ("flac", True, True, "lossless tracks and sidecars"),
    ("pcm_s16le", True, True, "WAV stems"),
    ("opus", False, True, "Opus audio"),
    ("libopus", True, False, "Opus audio"),
    # what films and series arrive in (DVD, Blu-ray, broadcast and streaming releases)
    ("ac3", False, True, "Dolby Digital (AC-3) film audio"),
    ("eac3", False, True, "Dolby Digital Plus (E-AC-3) streaming audio"),
    ("dts", False, True, "DTS film audio (DVD, Blu-ray)"),
    ("truehd", False, True, "Dolby TrueHD (Blu-ray)"),
    ("hevc", False, True, "H.265 video (UHD releases)"),
    ("mpeg2video", False, True, "MPEG-2 video (DVD, broadcast)"),
)
# import name, distribution, what it adds, install command
OPTIONAL = (
    ("demucs", "demucs", "speech/music separation", "pip install demucs"),
    ("whisper", "openai-whisper", "speech recognition (Whisper)", "pip install openai-whisper"),
    ("faster_whisper", "faster-whisper", "speech recognition (CTranslate2)",
     "pip install faster-whisper"),
    ("transformers", "transformers", "SeamlessM4T / NLLB translation",
     "pip install transformers sentencepiece"),
    ("silero_vad", "silero-vad", "voice activity detection", "pip install silero-vad"),
    ("pocketsphinx", "pocketsphinx", "offline phone alignment", "pip install pocketsphinx"),
    ("matchering", "matchering", "loudness/EQ matching of dubs", "pip install matchering"),
    ("parselmouth", "praat-parselmouth", "pitch and formant analysis",
     "pip install praat-parselmouth"),
    ("pyloudnorm", "pyloudnorm", "EBU R128 loudness", "pip install pyloudnorm"),
    ("tensorboard", "tensorboard", "training curves", "pip install tensorboard"),
    ("scenedetect", "scenedetect", "shot detection (PySceneDetect)",
     "pip install scenedetect[opencv]"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor", help="check Python, torch, FFmpeg codecs, TTS and optional backends",
        description="Report what this machine offers dubclr: Python, torch and its devices, "
                    "PyAV/FFmpeg versions and codecs, the espeak-ng TTS and its voices, and "
                    "optional backends with how to install the missing ones. Exit code 1 when "
                    "something required is missing.")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_doctor)


def collect() -> dict:
    """The whole report as a dict; `ok` is False when something required is missing."""
    report = {"dubclr": __version__,
              "python": {"version": platform.python_version(), "executable": sys.executable,
                         "platform": platform.platform()},
              "torch": _torch(), "media": _media(), "tts": _tts(),
              "optional": [_optional(*entry) for entry in OPTIONAL]}
    report["ok"] = (report["torch"].get("ok", False) and report["media"].get("ok", False)
                    and report["tts"].get("ok", False))
    return report


def _torch() -> dict:
    try:
        import torch
    except ImportError as exc:
        return {"ok": False, "error": f"{exc}; install torch (make setup)"}
    devices = ["cpu"]
    cuda = torch.cuda.is_available()
    if cuda:
        devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})"
                    for i in range(torch.cuda.device_count())]
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if mps:
        devices.append("mps")
    return {"ok": True, "version": torch.__version__, "cuda": cuda,
            "cuda_version": torch.version.cuda, "mps": mps, "devices": devices,
            "threads": torch.get_num_threads()}


def _media() -> dict:
    try:
        import av
    except ImportError as exc:
        return {"ok": False, "error": f"{exc}; pip install av"}
    libraries = {name: ".".join(map(str, version)) for name, version in av.library_versions.items()}
    codecs, ok = [], True
    for name, encode, decode, purpose in CODECS:
        entry = {"codec": name, "for": purpose}
        for mode, needed in (("w", encode), ("r", decode)):
            if needed:
                key = "encode" if mode == "w" else "decode"
                try:
                    av.Codec(name, mode)
                    entry[key] = True
                except Exception:  # PyAV raises its own UnknownCodecError
                    entry[key] = False
                    ok = False
        codecs.append(entry)
    return {"ok": ok, "pyav": av.__version__,
            "ffmpeg": getattr(av, "ffmpeg_version_info", None) or libraries.get("libavcodec"),
            "libraries": libraries, "codecs": codecs}


def _tts() -> dict:
    from dubclr.errors import BackendUnavailableError
    try:
        from dubclr.synth.tts import tts_info
        info = tts_info()
    except (BackendUnavailableError, OSError) as exc:
        return {"ok": False, "error": str(exc)}
    missing = sorted(lang for lang, present in info["corpus_voices"].items() if not present)
    return {"ok": not missing, "engine": "espeak-ng (espeakng-loader)", "version": info["version"],
            "sample_rate": info["sample_rate"], "corpus_voices": info["corpus_voices"],
            "voice_languages": len(info["languages"]),
            **({"error": f"no voice for {', '.join(missing)}"} if missing else {})}


def _optional(module: str, distribution: str, purpose: str, install: str) -> dict:
    present = importlib.util.find_spec(module) is not None
    version = None
    if present:
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
    return {"name": distribution, "module": module, "for": purpose, "present": present,
            "version": version, "install": None if present else install}


def run_doctor(args: argparse.Namespace) -> int:
    report = collect()
    if args.json:
        print(json.dumps(report, indent=1))
        return 0 if report["ok"] else 1
    mark = {True: "ok ", False: "MISSING"}
    py = report["python"]
    print(f"dubclr {report['dubclr']}  Python {py['version']} ({py['executable']})")
    torch = report["torch"]
    if torch["ok"]:
        print(f"[ok ] torch {torch['version']}  devices: {', '.join(torch['devices'])}  "
              f"(CUDA {'yes' if torch['cuda'] else 'no'}, MPS {'yes' if torch['mps'] else 'no'}, "
              f"{torch['threads']} threads)")
    else:
        print(f"[MISSING] torch: {torch['error']}")
    media = report["media"]
    if "error" in media:
        print(f"[MISSING] PyAV: {media['error']}")
    else:
        print(f"[{mark[media['ok']]}] PyAV {media['pyav']}, FFmpeg {media['ffmpeg']}")
        for codec in media["codecs"]:
            modes = ", ".join(f"{k} {'yes' if codec[k] else 'NO'}" for k in ("encode", "decode")
                              if k in codec)
            print(f"        {codec['codec']:<10} {modes:<24} {codec['for']}")
    tts = report["tts"]
    if "version" in tts:
        voices = " ".join(f"{lang}:{'yes' if ok else 'NO'}" for lang, ok in tts["corpus_voices"].items())
        print(f"[{mark[tts['ok']]}] TTS {tts['engine']} {tts['version']}, {tts['sample_rate']} Hz, "
              f"voices {voices}")
    else:
        print(f"[MISSING] TTS: {tts['error']}")
    print("optional backends:")
    for entry in report["optional"]:
        state = f"present {entry['version']}" if entry["present"] else f"absent: {entry['install']}"
        print(f"        {entry['name']:<18} {state:<42} {entry['for']}")
    print("ready" if report["ok"] else "NOT ready: install what is marked MISSING (make setup)")
    return 0 if report["ok"] else 1
