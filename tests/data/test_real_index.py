"""Indexing titles built from real recordings: truncated files, audio shorter than the picture,
the original flag, and one catalog per collection."""

import shutil
import sqlite3

import pytest

from dubclr.cli import main
from dubclr.data.catalog import Catalog, check_catalog_files, require_catalog_files
from dubclr.data.indexer import index_folder
from dubclr.errors import CatalogError


def _title(catalog, name):
    with Catalog.open(catalog) as cat:
        return next(t for t in cat.titles() if t.name == name)


def _shots(catalog, name):
    with Catalog.open(catalog) as cat:
        return [s for s in cat.shot_records() if s.title == name]


def test_truncated_files_are_failures_not_titles_of_their_stated_length(real_media, tmp_path):
    folder = tmp_path / "titles"
    real_media.copy_to(folder, "first_20k", "cut_1m5", "portrait_540x960_2997")
    report = index_folder(folder, tmp_path / "c.sqlite", show_progress=False)
    assert (report.indexed, report.failed) == (1, 2)
    reasons = dict(report.failures)
    assert "decodes to 0.08 s but the file states 8.00 s" in reasons[str(folder / "first_20k.mkv")]
    assert "decodes to 1.83 s but the file states 7.01 s" in reasons[str(folder / "cut_1m5.mkv")]
    with Catalog.open(tmp_path / "c.sqlite") as cat:
        (title,) = cat.titles()
        assert {e for _, e, _ in cat.failures()} == {"TruncatedMediaError"}
    assert title.duration == pytest.approx(real_media.spec("portrait_540x960_2997").seconds,
                                           abs=0.01)


def test_the_catalog_records_where_each_track_really_has_audio(real_catalog, real_media):
    catalog, _ = real_catalog
    short = _title(catalog, "short_audio_540p_25")
    english, spanish = short.tracks
    assert english.audio_end == pytest.approx(7.0, abs=0.03)  # the file's tag says 7.0 too
    assert spanish.audio_end == pytest.approx(short.duration, abs=0.05)
    camera = _title(catalog, "camera_480p_2997")
    assert camera.tracks[1].language == "es"
    assert camera.tracks[1].audio_end == pytest.approx(4.0, abs=0.05)
    assert camera.duration == pytest.approx(real_media.spec("camera_480p_2997").seconds, abs=0.01)


def test_shots_need_original_audio_and_dubs_are_left_out_where_they_stop(real_catalog):
    catalog, report = real_catalog
    # the original (English) track stops at 7.0 s: the shot 5.28-9.56 s is not trainable
    short = _shots(catalog, "short_audio_540p_25")
    assert [(round(s.start, 2), round(s.end, 2)) for s in short] == [(0.0, 5.28)]
    assert any("short_audio_540p_25: 1 shot(s) left out" in w for w in report.warnings)
    # the Spanish dub stops at 4.0 s: the second shot keeps its shot but not the language
    first, second = _shots(catalog, "camera_480p_2997")
    assert first.audio_languages == ("en", "es", "fr", "und")
    assert second.audio_languages == ("en", "fr", "und")
    assert second.languages == first.languages  # the title's tracks, for selection
    assert first.has_audio("es", 0.5, 3.5) and not second.has_audio("es", 4.5, 7.5)
    assert not first.has_audio("es", 3.5, 4.5) and first.has_audio("en", 3.5, 4.5)


def test_the_original_flag_decides_before_the_csv_and_the_default_track(real_catalog, tmp_path):
    catalog, _ = real_catalog
    flagged = _title(catalog, "original_flag_360p_25")
    assert (flagged.original_language, flagged.original_source) == ("it", "original-flag")
    camera = _title(catalog, "camera_480p_2997")
    assert (camera.original_language, camera.original_source) == ("en", "default-track")

    copy = tmp_path / "catalog.sqlite"
    shutil.copy(catalog, copy)
    csv = tmp_path / "originals.csv"
    csv.write_text("file,language\noriginal_flag_360p_25.mkv,fr\ncamera_480p_2997.mkv,fr\n")
    root = Catalog.open(copy).roots()[0]
    report = index_folder(root, copy, originals_csv=csv, show_progress=False)
    assert report.originals_from_csv == 1
    (warning,) = report.warnings
    assert "says 'fr' but its file flags the 'it' track as the original; the flag wins" in warning
    assert (_title(copy, "original_flag_360p_25").original_source) == "original-flag"
    assert (_title(copy, "camera_480p_2997").original_language) == "fr"


def test_another_folder_needs_add_root_and_identical_content_is_reported(real_media, tmp_path,
                                                                          capsys):
    first = real_media.copy_to(tmp_path / "a", "portrait_540x960_2997")
    second = real_media.copy_to(tmp_path / "b", "portrait_540x960_2997")
    shutil.copy(second / "portrait_540x960_2997.mkv", second / "same_film_renamed.mkv")
    catalog = tmp_path / "c.sqlite"
    index_folder(first, catalog, show_progress=False)
    with pytest.raises(CatalogError, match="is another folder.*--add-root"):
        index_folder(second, catalog, show_progress=False)
    with Catalog.open(catalog) as cat:
        assert len(cat.titles()) == 1  # nothing was merged
    index_folder(first / ".", catalog, show_progress=False)  # the same root is fine
    assert main(["index", str(second), "--catalog", str(catalog), "--add-root"]) == 0
    err = capsys.readouterr().err
    assert "identical content" in err and "same_film_renamed.mkv" in err
    with Catalog.open(catalog) as cat:
        assert cat.roots() == [str(first.resolve()), str(second.resolve())]
        (group,) = cat.duplicates()
        assert len(group) == 3


def test_missing_files_are_listed_in_one_message(real_catalog, tmp_path):
    catalog, _ = real_catalog
    folder = tmp_path / "titles"
    shutil.copytree(Catalog.open(catalog).roots()[0], folder)
    copy = tmp_path / "c.sqlite"
    index_folder(folder, copy, show_progress=False)
    (folder / "camera_480p_2997.mkv").unlink()
    (folder / "original_flag_360p_25.mkv").unlink()
    with Catalog.open(copy) as cat:
        assert check_catalog_files(cat) == [str(folder / "camera_480p_2997.mkv"),
                                            str(folder / "original_flag_360p_25.mkv")]
        with pytest.raises(CatalogError, match=r"2 file\(s\) it names are gone") as exc:
            require_catalog_files(cat)
    assert f"dubclr index {folder}" in str(exc.value)


def test_a_file_that_is_not_a_catalog_is_never_written_or_condemned(tmp_path, real_media):
    movie = real_media.copy_to(tmp_path, "portrait_540x960_2997") / "portrait_540x960_2997.mkv"
    before = movie.read_bytes()
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    for path in (movie, other):
        for create in (False, True):
            with pytest.raises(CatalogError, match="not a dubclr catalog") as exc:
                Catalog.open(path, create=create)
            assert "delete" not in str(exc.value).lower()
    assert movie.read_bytes() == before
    with sqlite3.connect(other) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["notes"]
