"""Original languages from `dubclr index --originals`: set, kept by later runs, used by the
dub policies, shown in stats; bad rows are clear errors; older catalogs are migrated."""

import json
import shutil
import sqlite3

import numpy as np
import pytest
import torch

from dubclr.cli import main
from dubclr.data.catalog import SCHEMA_VERSION, Catalog
from dubclr.data.dataset import QuadrupletDataset
from dubclr.data.indexer import index_folder
from dubclr.data.loader import load_selection
from dubclr.errors import CatalogError
from dubclr.media import read_audio


def _originals(catalog):
    with Catalog.open(catalog) as cat:
        return {t.name: (t.original_language, t.original_source) for t in cat.titles()}


def test_csv_sets_the_original_and_later_runs_keep_it(tiny_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    csv = tmp_path / "originals.csv"
    csv.write_text(f"file,language\ntitle_000.mkv,French\n{corpus / 'title_001.mkv'},spa\n")
    catalog = tmp_path / "c.sqlite"
    first = index_folder(corpus, catalog, originals_csv=csv, show_progress=False)
    assert (first.indexed, first.originals_from_csv) == (3, 2)
    expected = {"title_000": ("fr", "csv"), "title_001": ("es", "csv"),
                "title_002": ("en", "default-track")}
    assert _originals(catalog) == expected

    (corpus / "title_000.mkv").touch()  # re-indexed (probed again) without the CSV
    second = index_folder(corpus, catalog, show_progress=False)
    assert (second.indexed, second.unchanged, second.originals_from_csv) == (1, 2, 0)
    assert _originals(catalog) == expected


def test_cli_originals_on_an_indexed_catalog_feed_policies_and_stats(
        tiny_corpus, catalog_copy, data_config, tmp_path, capsys):
    csv = tmp_path / "originals.csv"
    csv.write_text("file,language\ntitle_001.mkv,fr-FR\n")
    argv = ["index", str(tiny_corpus), "--catalog", str(catalog_copy)]
    assert main(argv + ["--originals", str(csv)]) == 0  # titles unchanged: updated in place
    assert f"1 original languages set from {csv}" in capsys.readouterr().out
    assert main(argv) == 0  # a run without --originals keeps it
    capsys.readouterr()
    assert _originals(catalog_copy)["title_001"] == ("fr", "csv")

    assert main(["catalog", "stats", str(catalog_copy), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["original_languages"] == {"en": 2, "fr": 1}
    assert stats["original_sources"] == {"default-track": 2, "csv": 1}
    assert stats["dub_languages"] == {"es": 3, "fr": 2, "ja": 3, "en": 1}
    assert main(["catalog", "stats", str(catalog_copy)]) == 0
    assert "(from: default-track:2  csv:1)" in capsys.readouterr().out

    for policy in ("mono", "random"):
        cfg = data_config(catalog_copy, dub_policy=policy)
        ds = QuadrupletDataset(load_selection(cfg), cfg)
        positions = [p for p, s in enumerate(ds.shots) if s.title == "title_001"]
        assert positions
        for p in positions:
            item = ds.load(p, 0, np.random.default_rng(p))
            meta = item["meta"]
            assert meta["lang_p"] == "fr"
            assert meta["lang_s"] == "fr" if policy == "mono" else meta["lang_s"] in {"en", "es", "ja"}
            primary = read_audio(ds.shots[p].path, meta["t_p"], 3.0, track="fr")
            assert torch.equal(item["audio_p"][0], torch.from_numpy(primary))


def test_bad_originals_are_clear_errors_and_lose_nothing(tiny_corpus, catalog_copy, tmp_path):
    def run(text):
        csv = tmp_path / "originals.csv"
        csv.write_text(text)
        return index_folder(tiny_corpus, catalog_copy, originals_csv=csv, show_progress=False)

    before = _originals(catalog_copy)
    with pytest.raises(CatalogError, match=r"title_002 has no 'de' track \(its languages: "
                                           r"en, es, fr, ja\)") as exc:
        run("file,language\ntitle_000.mkv,es\ntitle_002.mkv,German\n")
    assert "originals.csv:3" in str(exc.value)
    after = _originals(catalog_copy)
    assert after["title_002"] == before["title_002"] and after["title_000"] == ("es", "csv")
    with pytest.raises(CatalogError, match="'missing.mkv' is not a title"):
        run("file,language\nmissing.mkv,en\n")
    with pytest.raises(CatalogError, match="file,language"):
        run("file,lang\ntitle_000.mkv,en\n")
    with pytest.raises(CatalogError, match=":2: need a file and a language"):
        run("file,language\ntitle_000.mkv,klingonese\n")
    with pytest.raises(CatalogError, match="already has language 'es'"):
        run("file,language\ntitle_000.mkv,es\ntitle_000.mkv,fr\n")
    assert _originals(catalog_copy)["title_000"] == ("es", "csv")


# columns each schema version added
_ADDED = {2: [("titles", "original_source")],
          3: [("titles", "stated_duration"), ("titles", "content_hash"),
              ("tracks", "audio_start"), ("tracks", "audio_end")]}


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_catalog_is_migrated_in_place(tiny_corpus, catalog_copy, version):
    conn = sqlite3.connect(catalog_copy)
    for v in range(version + 1, SCHEMA_VERSION + 1):
        for table, column in _ADDED[v]:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.commit()
    conn.close()
    with Catalog.open(catalog_copy) as cat:
        found = cat.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        assert int(found[0]) == SCHEMA_VERSION == 3
        titles = cat.titles()
        assert len(titles) == 3 and len(cat.shot_records()) == 11
        assert {(t.original_language, t.original_source) for t in titles} == {("en", "default-track")}
        # audio never measured: each track falls back to its stated duration
        track = titles[0].tracks[0]
        assert track.audio_end is None and track.audio_interval == (0.0, track.duration)
    # the next index run measures what the old one did not, though no file changed
    report = index_folder(tiny_corpus, catalog_copy, show_progress=False)
    assert (report.indexed, report.unchanged) == (3, 0)
    with Catalog.open(catalog_copy) as cat:
        assert all(t.audio_end is not None for title in cat.titles() for t in title.tracks)
