"""Single-track titles for the counterfactual pipeline (cut from the shared tiny corpus, or of
real speech), and every model backend with tiny random weights (``tiny_models.py``)."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from dubclr.media import normalize_language

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tiny_models.py, real_speech.py
from tiny_models import backends_expected, need, point_model_caches  # noqa: E402


def reduce_to_original(src: Path, dst: Path, language: str = "en") -> Path:
    """Remux ``src`` keeping the video and the ``language`` audio stream (no re-encode)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        audio = next(s for s in inp.streams.audio
                     if normalize_language(s.metadata.get("language")) == language)
        keep = [inp.streams.video[0], audio]
        mapping = {s.index: out.add_stream_from_template(s) for s in keep}
        mapping[audio.index].metadata["language"] = audio.metadata["language"]
        for packet in inp.demux(*keep):
            if packet.size == 0:
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)
    return dst


@pytest.fixture(scope="session")
def single_track_titles(tiny_corpus: Path, tmp_path_factory) -> Path:
    """Two corpus titles reduced to video + English audio, with their en/es/fr subtitle
    sidecars and stems, as a user's folder of single-track videos would look."""
    out = tmp_path_factory.mktemp("single_track")
    for name in ("title_000", "title_001"):
        reduce_to_original(tiny_corpus / f"{name}.mkv", out / f"{name}.mkv")
        for lang in ("en", "es", "fr"):
            shutil.copy(tiny_corpus / f"{name}.{lang}.srt", out / f"{name}.{lang}.srt")
        stems = out / "stems" / name
        stems.mkdir(parents=True)
        for stem in ("background.wav", "speech.en.wav"):
            shutil.copy(tiny_corpus / "stems" / name / stem, stems / stem)
    return out


# ------------------------------------------------------------- model backends, run for real

@pytest.fixture
def empty_model_caches(monkeypatch, tmp_path) -> Path:
    """Empty model caches: a user's own downloads must not make a 'missing model' test pass."""
    return point_model_caches(monkeypatch, tmp_path / "caches")


@dataclass
class TinyModels:
    root: Path  # TORCH_HOME / HF cache / XDG cache root
    openai_whisper: Path  # a .pt checkpoint
    faster_whisper: Path  # a CTranslate2 folder (also cached as Systran/faster-whisper-small)


@pytest.fixture(scope="session")
def tiny_model_files(tmp_path_factory) -> TinyModels:
    """Every backend's model with tiny random weights, where its library looks for it under the
    names the presets use: adefossez/HTDemucs, Systran/faster-whisper-small,
    facebook/nllb-200-distilled-600M, facebook/seamless-m4t-v2-large (Hugging Face cache)."""
    import tiny_models as tm

    need(*tm.BACKEND_PACKAGES)

    root = tmp_path_factory.mktemp("tiny_models")
    hub, build = root / "hf" / "hub", root / "build"
    tm.put_in_hf_cache(hub, "adefossez/HTDemucs", tm.build_htdemucs(build / "demucs"))
    faster = tm.build_faster_whisper(root / "faster-whisper-tiny")
    tm.put_in_hf_cache(hub, "Systran/faster-whisper-small", faster)
    tm.put_in_hf_cache(hub, "facebook/nllb-200-distilled-600M", tm.build_nllb(build / "nllb"))
    tm.put_in_hf_cache(hub, "facebook/seamless-m4t-v2-large", tm.build_seamless_v2(build / "seamless"))
    return TinyModels(root, tm.build_openai_whisper(root / "whisper-tiny.pt"), faster)


@pytest.fixture
def tiny_backends(tiny_model_files, monkeypatch) -> TinyModels:
    """The tiny models in place for one test (caches pointed at them, offline), on one torch
    thread: tiny models spend their time in thread hand-offs otherwise."""
    import torch

    point_model_caches(monkeypatch, tiny_model_files.root)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_model_files
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def speech_title(tmp_path_factory):
    """A 13 s single-track title of real English speech with English and Spanish subtitles
    (tests/counterfactual/real_speech.py)."""
    from real_speech import alsa_sounds, build_speech_title

    sounds = alsa_sounds()
    if sounds is None:
        why = "alsa-utils' speech recordings are missing (make setup unpacks them into .cache/realmedia)"
        if backends_expected():
            pytest.fail(why)
        pytest.skip(why)
    return build_speech_title(tmp_path_factory.mktemp("speech_title"), sounds)
