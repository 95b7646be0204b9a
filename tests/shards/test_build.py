"""The shard build on a local 2-CPU Ray: WebDataset layout, byte offsets, failures, re-runs."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
import webdataset as wds

from dubclr.shards.index import INDEX_NAME, ShardIndex
from dubclr.shards.pipeline import build_shards
from dubclr.shards.record import ShotHeader


def test_build_reports_every_title(built_shards):
    out, report = built_shards
    assert report.titles == 4 and report.built == 3 and report.skipped == 0
    assert [name for name, _ in report.failed] == ["d_broken"]
    with ShardIndex(out / INDEX_NAME) as index:
        failures = index.failures()
        titles = index.titles()
    assert sorted(titles) == ["a_bikes", "b_bbb", "c_carphone"]
    assert list(failures) == ["d_broken"] and failures["d_broken"][0].endswith("d_broken.mkv")
    assert "truncated" in failures["d_broken"][4] or "no frames" in failures["d_broken"][4]
    # only kept shots become records: a_bikes' first shot (0.5 s) is too short
    assert titles["a_bikes"].shots == 2 and titles["b_bbb"].shots == 1


def test_webdataset_reads_every_record(built_shards):
    out, _ = built_shards
    with ShardIndex(out / INDEX_NAME) as index:
        titles = index.titles()
        expected = {r.key: r for t in titles for r in index.records(t).values()}
    urls = [str(out / t.shard) for t in titles.values()]
    samples = {s["__key__"]: s for s in wds.WebDataset(urls, shardshuffle=False)}
    assert sorted(samples) == sorted(expected)
    for key, sample in samples.items():
        row = expected[key]
        assert sorted(k for k in sample if not k.startswith("__")) == sorted(row.members)
        header = ShotHeader.from_json(sample["json"])
        assert (header.title, header.shot, header.start, header.end) == (
            row.title, row.shot, row.start, row.end)
        assert header.fps == 25 and header.sample_rate == 48000
        assert header.num_samples == round(header.end * 48000) - round(header.start * 48000)
        assert sorted(header.tracks) == sorted(m.split(".")[0] for m in row.members
                                               if m.endswith(".flac"))


def test_index_offsets_are_the_tar_member_offsets(built_shards):
    out, _ = built_shards
    with ShardIndex(out / INDEX_NAME) as index:
        for name, title in index.titles().items():
            rows = index.records(name)
            with tarfile.open(out / title.shard) as tar:
                members = {m.name: m for m in tar.getmembers()}
                for row in rows.values():
                    for member, (offset, size) in row.members.items():
                        info = members[f"{row.key}.{member}"]
                        assert (info.offset_data, info.size) == (offset, size)
                        data = tar.extractfile(info).read()
                        with open(out / title.shard, "rb") as fh:
                            fh.seek(offset)
                            assert fh.read(size) == data


def test_record_holds_every_track_with_its_layout(built_shards):
    out, _ = built_shards
    with ShardIndex(out / INDEX_NAME) as index:
        bbb = index.records("b_bbb")[0]
        bikes = index.records("a_bikes")[1]
        car = index.records("c_carphone")[0]
    header = _header(out, "b_bbb", bbb)
    # the catalog takes the first language-tagged track as the original
    assert header.languages == ["und", "es"] and header.original_language == "es"
    surround = header.tracks["und"]  # the real AAC 5.1 track, folded to stereo
    assert (surround.channels, surround.source_channels) == (2, 6)
    assert surround.source_layout == "5.1" and surround.scale == pytest.approx(1 + 2 ** 0.5)
    assert (header.width, header.height) == (568, 320)  # 1280x720 -> short side 320
    bikes_header = _header(out, "a_bikes", bikes)
    assert (bikes_header.width, bikes_header.height) == (640, 272)  # never upscaled
    assert bikes_header.tracks["es"].source_rate == 44100
    assert bikes_header.source_fps == pytest.approx(23.976, abs=1e-3)
    car_header = _header(out, "c_carphone", car)
    assert car_header.separated and sorted(car_header.tracks) == ["fr", "separated"]
    assert car_header.tracks["fr"].channels == 1  # mono stays mono
    # 3.9 s of 29.97 fps source frames become ceil(n / 29.97 * 25) frames on the grid
    assert car_header.num_frames == int(np.ceil(117 / (30000 / 1001) * 25 - 1e-9))


def test_rerun_skips_built_titles_and_failures(built_shards, shard_catalog):
    out, _ = built_shards
    before = {p.name: p.stat().st_mtime_ns for p in (out / "shards").iterdir()}
    report = build_shards(shard_catalog, out, show_progress=False)
    assert (report.built, report.skipped, report.failed_before) == (0, 3, ["d_broken"])
    assert {p.name: p.stat().st_mtime_ns for p in (out / "shards").iterdir()} == before


def _header(out, title, row) -> ShotHeader:
    with ShardIndex(out / INDEX_NAME) as index:
        shard = out / index.shard_of(title)
    offset, size = row.members["json"]
    with open(shard, "rb") as fh:
        fh.seek(offset)
        return ShotHeader.from_json(fh.read(size))


def test_headers_are_json(built_shards):
    out, _ = built_shards
    with ShardIndex(out / INDEX_NAME) as index:
        row = index.records("c_carphone")[0]
    raw = json.loads(_header(out, "c_carphone", row).to_json())
    assert raw["format"] == "dubclr-shot" and raw["version"] == 1


def test_info_command_summarises_and_lists_failures(built_shards, capsys):
    from dubclr.cli import main

    out, _ = built_shards
    assert main(["shards", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("3 titles, 4 shots") and "failed: d_broken" in text
    assert main(["shards", "info", str(out / "nowhere")]) == 2
    assert "dubclr shards build" in capsys.readouterr().err
