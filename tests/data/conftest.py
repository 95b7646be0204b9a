"""Helpers to build configs on the indexed catalogs (``tiny_catalog``, ``real_catalog``:
tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dubclr.config import from_dict
from dubclr.data.config import DataConfig
from dubclr.data.indexer import index_folder


@pytest.fixture
def catalog_copy(tiny_catalog, tmp_path) -> Path:
    target = tmp_path / "catalog.sqlite"
    shutil.copy(tiny_catalog, target)
    return target


@pytest.fixture
def data_config():
    """``data_config(catalog, sampler__batch_size=2, ...)``: a small DataConfig."""
    return make_data_config


def make_data_config(catalog: Path, **overrides) -> DataConfig:
    base = {"catalog": str(catalog), "sampler": {"batch_size": 4, "same_title": 2},
            "num_workers": 0, "dub_policy": "random"}
    for key, value in overrides.items():
        node = base
        *parents, leaf = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return from_dict(DataConfig, base)


def remux_without(source: Path, target: Path, language: str) -> Path:
    """Copy a title's streams (no re-encoding) except its audio track in ``language``."""
    import av

    from dubclr.media import normalize_language

    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        kept = {}
        for stream in inp.streams:
            tag = stream.metadata.get("language", "")
            if stream.type == "audio" and normalize_language(tag) == language:
                continue
            copy = out.add_stream_from_template(stream)
            copy.metadata.update(stream.metadata)
            copy.disposition = stream.disposition
            kept[stream.index] = copy
        for packet in inp.demux(*[inp.streams[i] for i in kept]):
            if packet.dts is None:
                continue  # the demuxer's flush packets
            packet.stream = kept[packet.stream.index]
            out.mux(packet)
    return target


@pytest.fixture(scope="session")
def catalog_without_french_in_one_title(tiny_corpus, tmp_path_factory) -> Path:
    """The tiny corpus indexed with title_001's French track removed (the real media of the
    other titles, and of title_001's other tracks, unchanged): en, es, ja for that title."""
    folder = tmp_path_factory.mktemp("corpus_missing_fr")
    for title in sorted(tiny_corpus.glob("title_*.mkv")):
        if title.name == "title_001.mkv":
            remux_without(title, folder / title.name, "fr")
        else:
            shutil.copy(title, folder / title.name)
    out = folder / "catalog.sqlite"
    report = index_folder(folder, out, jobs=1, show_progress=False)
    assert report.failed == 0, report.failures
    return out
