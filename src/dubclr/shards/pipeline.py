"""`dubclr shards build`: plan the titles of a catalog, build them on Ray Data, record them.

The build is a Ray Data pipeline: one row per title, `Dataset.map` runs
:func:`dubclr.shards.build.build_title` as a one-CPU task per row, and the driver records each
result in the index as it streams in. Without ``ray_address`` Ray runs in this process on
``workers`` local CPUs; with it, the tasks go to that cluster (every node must see the catalog's
media and OUT at the same paths, and have dubclr installed).

Resuming: a title whose index row has the same fingerprint (its files, tracks, kept shots) and
the same options, and whose shard is there, is skipped; a killed build loses only the titles
in flight. A title that fails is recorded in the index's ``failures`` table with its reason and
skipped by later runs until its files change (or ``retry_failed``); the job goes on.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dubclr.data.catalog import Catalog, TitleRecord
from dubclr.errors import CatalogError, DubclrError
from dubclr.progress import progress
from dubclr.shards.build import (
    SHARDS_DIR,
    TMP_MARK,
    ShardOptions,
    TitleJob,
    TrackJob,
    build_row,
    job_fingerprint,
)
from dubclr.shards.index import INDEX_NAME, RecordRow, ShardIndex, TitleRow
from dubclr.shards.record import SEPARATED

log = logging.getLogger("dubclr.shards")


@dataclass
class BuildReport:
    out: Path
    index: Path
    titles: int = 0  # in the catalog selection
    built: int = 0
    skipped: int = 0  # already built with these options
    failed: list[tuple[str, str]] = field(default_factory=list)  # (title, reason), this run
    failed_before: list[str] = field(default_factory=list)  # skipped: failed earlier, unchanged
    seconds: float = 0.0  # content (kept shots) built in this run
    duration: float = 0.0  # title time decoded in this run
    bytes: int = 0
    cpu_seconds: float = 0.0  # summed over the build tasks


def plan_jobs(catalog: Catalog, titles: Sequence[str] | None = None) -> list[TitleJob]:
    """One job per catalog title (in name order), or per title matching ``titles`` (names or
    shell patterns); raises CatalogError for a pattern that matches nothing."""
    records = catalog.titles()
    names = [r.name for r in records]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CatalogError(f"{catalog.path}: titles {duplicates[:5]} share a name (indexed from "
                           "two folders?); shards key titles by name: index each folder into "
                           "its own catalog")
    if titles:
        unmatched = [p for p in titles if not any(fnmatch.fnmatchcase(n, p) for n in names)]
        if unmatched:
            raise CatalogError(f"--titles: {unmatched} match no title of {catalog.path}; names "
                               f"look like {names[:3]} (see `dubclr catalog stats`)")
        records = [r for r in records if any(fnmatch.fnmatchcase(r.name, p) for p in titles)]
    return [_job(r) for r in records if any(kept for _, _, kept in r.shots)]


def _job(record: TitleRecord) -> TitleJob:
    seen: set[str] = set()
    tracks = []
    for t in record.tracks:
        member = SEPARATED if t.kind == "separated" else t.language
        if member in seen:  # a second track in a language: training reads the first
            continue
        seen.add(member)
        tracks.append(TrackJob(position=t.position, path=t.path if t.kind == "separated"
                               else record.path, language=member, kind=t.kind))
    shots = tuple((i, s, e) for i, (s, e, kept) in enumerate(record.shots) if kept)
    return TitleJob(name=record.name, path=record.path, duration=record.duration,
                    fingerprint=job_fingerprint(record.fingerprint, record.original_language,
                                                tracks, shots),
                    original_language=record.original_language, tracks=tuple(tracks),
                    shots=shots)


def build_shards(catalog_path: str | Path, out: str | Path, options: ShardOptions = ShardOptions(),
                 *, titles: Sequence[str] | None = None, workers: int | None = None,
                 ray_address: str | None = None, retry_failed: bool = False,
                 show_progress: bool = True) -> BuildReport:
    """Build (or bring up to date) the shards of a catalog's titles into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = BuildReport(out=out, index=out / INDEX_NAME)
    with Catalog.open(catalog_path) as catalog:
        jobs = plan_jobs(catalog, titles)
    report.titles = len(jobs)
    with _exclusive(out), ShardIndex(report.index, create=True) as index:
        index.set_meta("options", options.to_json())
        todo = _todo(jobs, index, options, out, retry_failed, report)
        _remove_stale_temporaries(out)
        if todo:
            bar = progress(total=len(todo), desc="shards", unit="title",
                           disable=None if show_progress else True)
            for job, result in _run_on_ray(todo, out, options, workers, ray_address):
                _record(index, job, result, options, report)
                bar.update(1)
            bar.close()
    return report


def _todo(jobs, index: ShardIndex, options: ShardOptions, out: Path, retry_failed: bool,
          report: BuildReport) -> list[TitleJob]:
    done, failures = index.titles(), index.failures()
    wanted = options.to_json()
    todo = []
    for job in jobs:
        row = done.get(job.name)
        if row and row.fingerprint == job.fingerprint and row.options == wanted \
                and (out / row.shard).is_file():
            report.skipped += 1
            continue
        failure = failures.get(job.name)
        if failure and not retry_failed and failure[1] == job.fingerprint and failure[2] == wanted:
            report.failed_before.append(job.name)
            continue
        todo.append(job)
    return todo


def _record(index: ShardIndex, job: TitleJob, result: dict, options: ShardOptions,
            report: BuildReport) -> None:
    if result["ok"]:
        title = TitleRow(**result["title"])
        index.put_title(title, [RecordRow(**r) for r in result["records"]])
        report.built += 1
        report.seconds += title.seconds
        report.duration += title.duration
        report.bytes += title.bytes
        report.cpu_seconds += title.cpu_seconds
    else:
        index.put_failure(job.name, job.path, job.fingerprint, options.to_json(),
                          result["error"], result["reason"])
        report.failed.append((job.name, f"{result['error']}: {result['reason']}"))


def _run_on_ray(jobs: list[TitleJob], out: Path, options: ShardOptions, workers: int | None,
                address: str | None) -> Iterator[tuple[TitleJob, dict]]:
    import ray
    import ray.data

    by_name = {job.name: job for job in jobs}
    with _ray_session(workers, address):
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours is the one bar
        context.print_on_execution_start = False
        dataset = ray.data.from_items([{"job": job.to_json()} for job in jobs],
                                      override_num_blocks=len(jobs))
        dataset = dataset.map(build_row, fn_kwargs={"out_dir": str(out.resolve()),
                                                    "options": options.to_json()},
                              num_cpus=1)
        for row in dataset.iter_rows():
            result = dict(row)
            if result["ok"]:
                parsed = json.loads(result["result"])
                parsed["records"] = [_record_row(r) for r in parsed["records"]]
                result.update(parsed)
            yield by_name[result["name"]], result


def _record_row(raw: dict) -> dict:
    raw["languages"] = tuple(raw["languages"])
    raw["members"] = {k: tuple(v) for k, v in raw["members"].items()}
    return raw


@contextlib.contextmanager
def _ray_session(workers: int | None, address: str | None):
    """Use a running Ray session, connect to ``address``, or start Ray here on ``workers`` CPUs."""
    import ray

    if ray.is_initialized():
        yield
        return
    logging.getLogger("ray").setLevel(logging.WARNING)
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=False,
                 object_store_memory=256 * 1024 ** 2)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _exclusive(out: Path):
    """One build per output folder at a time (the lock goes with the process, even on SIGKILL)."""
    with open(out / ".build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DubclrError(f"{out}: another `dubclr shards build` is writing here; wait for "
                              "it to finish (or end it) and re-run") from None
        yield


def _remove_stale_temporaries(out: Path) -> None:
    """Shards a killed build left half-written (never renamed into place)."""
    folder = out / SHARDS_DIR
    if folder.is_dir():
        for item in folder.iterdir():
            if TMP_MARK in item.name and item.name.startswith("."):
                item.unlink(missing_ok=True)

