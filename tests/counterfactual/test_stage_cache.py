import json

import pytest

from dubclr.counterfactual.cache import StageCache, file_identity, stage_key
from dubclr.counterfactual.manifest import append_record, read_manifest


def test_key_depends_on_params_upstream_and_inputs():
    base = stage_key("align.es", {"max_ratio": 2.0}, ["u1"], ["f1"])
    assert base == stage_key("align.es", {"max_ratio": 2.0}, ["u1"], ["f1"])
    assert base != stage_key("align.es", {"max_ratio": 1.5}, ["u1"], ["f1"])
    assert base != stage_key("align.es", {"max_ratio": 2.0}, ["u2"], ["f1"])
    assert base != stage_key("align.es", {"max_ratio": 2.0}, ["u1"], ["f2"])
    assert base != stage_key("align.fr", {"max_ratio": 2.0}, ["u1"], ["f1"])


def test_file_identity_follows_content(tmp_path):
    f = tmp_path / "a.mkv"
    f.write_bytes(b"x" * 100)
    before = file_identity(f)
    f.write_bytes(b"y" * 100)
    assert file_identity(f) != before


def test_failed_write_leaves_no_entry(tmp_path):
    cache = StageCache(tmp_path)
    with pytest.raises(RuntimeError):
        with cache.write("t", "voice.es", "k", {}) as folder:
            (folder / "seg_0000.wav").write_bytes(b"partial")
            raise RuntimeError("crash")
    assert not cache.is_done("t", "voice.es", "k")
    assert list((tmp_path / "t" / "voice.es").iterdir()) == []


def test_write_replaces_an_old_entry(tmp_path):
    cache = StageCache(tmp_path)
    for value in ("old", "new"):
        meta = {"v": value}
        with cache.write("t", "s", "k", meta) as folder:
            (folder / "out.txt").write_text(value)
    assert (cache.path("t", "s", "k") / "out.txt").read_text() == "new"
    assert cache.meta("t", "s", "k") == {"v": "new"}


def test_clean_temporaries(tmp_path):
    (tmp_path / "t" / "s" / ".tmp-k-1-abc").mkdir(parents=True)
    assert StageCache(tmp_path).clean_temporaries() == 1
    assert not (tmp_path / "t" / "s" / ".tmp-k-1-abc").exists()


def test_manifest_skips_a_cut_line(tmp_path):
    path = tmp_path / "manifest.jsonl"
    append_record(path, {"kind": "stage", "n": 1})
    with open(path, "a") as f:
        f.write('{"kind": "sta')  # a crash mid-line
    append_record(path, {"kind": "stage", "n": 2})
    assert json.loads(path.read_text().splitlines()[0])["n"] == 1
    assert [r["n"] for r in read_manifest(path)] == [1, 2]


def test_clean_temporaries_of_given_titles_only(tmp_path):
    """An array task cleans up after its own titles, never another task's work in progress."""
    mine, theirs = tmp_path / "t1" / "voice.es" / ".tmp-k-1-abc", tmp_path / "t2" / "s" / ".tmp-k-2-def"
    mine.mkdir(parents=True)
    theirs.mkdir(parents=True)
    assert StageCache(tmp_path).clean_temporaries(["t1"]) == 1
    assert not mine.exists() and theirs.exists()
