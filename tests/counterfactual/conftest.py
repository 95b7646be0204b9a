"""Single-track titles for the counterfactual pipeline, cut from the shared tiny corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from dubclr.media import normalize_language


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
