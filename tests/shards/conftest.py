"""A catalog of titles made from real clips, one Ray session and one shard build per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dubclr.data.indexer import index_folder

sys.path.insert(0, str(Path(__file__).parent))  # the titles helpers
from titles import SHOTS, make_titles  # noqa: E402


@pytest.fixture(scope="session")
def shard_catalog(tmp_path_factory) -> Path:
    """catalog.sqlite over the four titles (d_broken is truncated after indexing)."""
    root = tmp_path_factory.mktemp("shard_titles")
    titles = make_titles(root / "titles")
    csv = root / "shots.csv"
    csv.write_text("file,start,end\n" + "".join(
        f"{name},{s},{e}\n" for name, shots in SHOTS.items() for s, e in shots))
    catalog = root / "catalog.sqlite"
    report = index_folder(titles, catalog, shots_csv=csv, show_progress=False)
    assert report.failed == 0, report.failures
    broken = titles / "d_broken.mkv"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])
    return catalog


@pytest.fixture(scope="session")
def built_shards(shard_catalog, ray_session, tmp_path_factory):
    """(OUT, report) of one uninterrupted build of the catalog."""
    from dubclr.shards.pipeline import build_shards

    out = tmp_path_factory.mktemp("shards")
    report = build_shards(shard_catalog, out, show_progress=False)
    return out, report
