"""Indexing the synthetic corpus: shots found exactly, tracks, incremental runs, failures."""

import json
import shutil

import pytest

from dubclr.data.catalog import SCHEMA_VERSION, Catalog
from dubclr.data.indexer import IndexOptions, index_folder
from dubclr.data.shots import detect_cuts, read_shot_csv, shots_from_cuts
from dubclr.errors import CatalogError


def test_index_finds_every_labelled_cut_and_track(tiny_corpus, tiny_catalog):
    labels = json.loads((tiny_corpus / "labels.json").read_text())
    with Catalog.open(tiny_catalog) as catalog:
        titles = {t.name: t for t in catalog.titles()}
        assert catalog.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sorted(titles) == sorted(t["id"] for t in labels["titles"])
    for label in labels["titles"]:
        title = titles[label["id"]]
        expected = [(s["start"], s["end"]) for s in label["shots"]]
        found = [(s, e) for s, e, _ in title.shots]
        assert len(found) == len(expected), (label["id"], found, expected)
        for (s, e), (es, ee) in zip(found, expected):
            assert abs(s - es) < 1e-3 and abs(e - ee) < 0.02
        dialogue = [t for t in title.tracks if t.kind == "dialogue"]
        assert [t.language for t in dialogue] == labels["languages"]
        assert title.original_language == label["original_language"]
        assert [t.kind for t in title.tracks].count("separated") == 1


def test_shot_length_bounds_decide_what_is_kept(tiny_corpus, tmp_path):
    catalog = tmp_path / "c.sqlite"
    index_folder(tiny_corpus, catalog, options=IndexOptions(min_shot=3.5, max_shot=4.5),
                 show_progress=False)
    with Catalog.open(catalog) as cat:
        for title in cat.titles():
            for s, e, kept in title.shots:
                assert kept == (3.5 <= e - s <= 4.5)
        kept_records = cat.shot_records()
    assert kept_records and all(3.5 <= r.length <= 4.5 for r in kept_records)


def test_incremental_run_skips_unchanged_and_records_failures(tiny_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    catalog = tmp_path / "c.sqlite"
    first = index_folder(corpus, catalog, jobs=2, show_progress=False)
    assert (first.indexed, first.failed) == (3, 0)
    (corpus / "broken.mkv").write_bytes(b"\x1aE\xdf\xa3 not really matroska" * 50)
    (corpus / "title_001.mkv").touch()  # mtime changes: re-indexed
    (corpus / "title_002.mkv").unlink()  # gone: removed from the catalog
    second = index_folder(corpus, catalog, show_progress=False)
    assert (second.indexed, second.unchanged, second.failed, second.removed) == (1, 1, 1, 1)
    with Catalog.open(catalog) as cat:
        assert sorted(t.name for t in cat.titles()) == ["title_000", "title_001"]
        (path, error, reason), = cat.failures()
        assert path.endswith("broken.mkv") and reason
    third = index_folder(corpus, catalog, show_progress=False)  # the failure is not retried
    assert (third.indexed, third.unchanged, third.failed) == (0, 3, 0)


def test_shots_can_come_from_a_csv(tiny_corpus, tmp_path):
    csv = tmp_path / "shots.csv"
    csv.write_text("file,start,end\ntitle_000.mkv,0,4\ntitle_000.mkv,4,9.5\n")
    catalog = tmp_path / "c.sqlite"
    index_folder(tiny_corpus, catalog, shots_csv=csv, show_progress=False)
    with Catalog.open(catalog) as cat:
        t0 = next(t for t in cat.titles() if t.name == "title_000")
    assert t0.shot_source == "csv" and t0.shots == [(0.0, 4.0, True), (4.0, 9.5, True)]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,begin\nx,1\n")
    with pytest.raises(CatalogError, match="file,start,end"):
        read_shot_csv(bad)


def test_detector_on_a_title_with_known_cuts(tiny_corpus):
    labels = json.loads((tiny_corpus / "labels.json").read_text())
    label = labels["titles"][0]
    cuts, end = detect_cuts(tiny_corpus / label["file"])
    assert cuts == pytest.approx([s["start"] for s in label["shots"][1:]], abs=1e-3)
    assert shots_from_cuts(cuts, end)[-1][1] == pytest.approx(label["shots"][-1]["end"], abs=0.02)


def test_catalog_errors_say_what_to_do(tmp_path):
    with pytest.raises(CatalogError, match="dubclr index"):
        Catalog.open(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(CatalogError, match="not a dubclr catalog"):
        Catalog.open(junk)
    newer = tmp_path / "newer.sqlite"
    Catalog.open(newer, create=True).close()
    with Catalog.open(newer) as cat:
        cat.conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
        cat.conn.commit()
    with pytest.raises(CatalogError, match="schema version"):
        Catalog.open(newer)
