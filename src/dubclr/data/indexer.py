"""``dubclr index``: walk a folder of titles into the catalog.

Each title is probed (tracks, sidecars), cut into shots (detected, or read from a CSV) and
written in one transaction. Files whose size and mtime (and their sidecars') are unchanged
since the last run are skipped; a file that cannot be read goes to the ``failures`` table
with its reason and the run goes on.

A title's original language is its default track's unless ``--originals`` gives it; a
language set that way is kept by later runs (``titles.original_source = 'csv'``), also when
the title is re-indexed, as long as the title still has a track in it.
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dubclr.data.catalog import ORIGINAL_FROM_CSV, Catalog, TitleRecord, TrackRecord
from dubclr.data.originals import OriginalRow, check_original, match_originals, read_originals_csv
from dubclr.data.shots import DetectorConfig, detect_cuts, keep_shot, read_shot_csv, shots_from_cuts
from dubclr.errors import CatalogError
from dubclr.media import AUDIO_EXTENSIONS, find_titles, probe, sidecar_paths
from dubclr.progress import progress

log = logging.getLogger("dubclr.data")

SEPARATED_TAG = "separated"  # Movie.separated.flac: the speech-removed track of Movie.mkv


@dataclass(frozen=True)
class IndexOptions:
    min_shot: float = 3.0
    max_shot: float = 12.0
    detector: DetectorConfig = DetectorConfig()


@dataclass
class IndexReport:
    catalog: Path
    found: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: int = 0
    removed: int = 0
    originals_from_csv: int = 0  # titles whose original language the CSV set in this run
    failures: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    path: str
    name: str
    fingerprint: str
    csv_shots: tuple[tuple[float, float], ...] | None
    options: IndexOptions


def separated_track(path: Path) -> Path | None:
    """``<stem>.separated.<ext>`` next to the title, or the synthetic corpus's background stem
    ``stems/<stem>/background.wav``."""
    for ext in sorted(AUDIO_EXTENSIONS):
        candidate = path.with_name(f"{path.stem}.{SEPARATED_TAG}{ext}")
        if candidate.is_file():
            return candidate
    stem = path.parent / "stems" / path.stem / "background.wav"
    return stem if stem.is_file() else None


def fingerprint(path: Path) -> str:
    """size:mtime of the title, its sidecars and its separated track."""
    parts = [path] + [p for _, p in sidecar_paths(path)]
    sep = separated_track(path)
    if sep is not None:
        parts.append(sep)
    out = []
    for p in parts:
        st = p.stat()
        out.append(f"{p.name}={st.st_size}:{st.st_mtime_ns}")
    return "|".join(out)


def index_folder(root: str | Path, catalog_path: str | Path, *, jobs: int = 1,
                 options: IndexOptions = IndexOptions(), shots_csv: str | Path | None = None,
                 originals_csv: str | Path | None = None,
                 show_progress: bool = True) -> IndexReport:
    """Index the titles below ``root``. A bad ``originals_csv`` row (a title without a track
    in that language) raises CatalogError after the run; that title is left as it was."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise CatalogError(f"data folder not found: {root}")
    csv_shots = read_shot_csv(shots_csv) if shots_csv else {}
    report = IndexReport(catalog=Path(catalog_path))
    titles = find_titles(root)
    report.found = len(titles)
    originals = _Originals(match_originals(read_originals_csv(originals_csv), titles, root,
                                           originals_csv) if originals_csv else {},
                           originals_csv)
    with Catalog.open(catalog_path, create=True) as catalog:
        known = catalog.fingerprints()
        originals.previous = catalog.originals()
        todo = []
        for path in titles:
            try:
                fp = fingerprint(path)
            except OSError as exc:
                catalog.put_failure(str(path), "", type(exc).__name__, str(exc))
                report.failed += 1
                report.failures.append((str(path), str(exc)))
                continue
            if known.get(str(path)) == fp:
                report.unchanged += 1
                originals.update_unchanged(catalog, str(path), rel_name(path, root), report)
                continue
            rel = path.relative_to(root)
            shots = csv_shots.get(rel.as_posix()) or csv_shots.get(path.name)
            todo.append(_Job(str(path), rel_name(path, root), fp,
                             tuple(shots) if shots else None, options))
        report.removed = catalog.remove_missing((str(p) for p in titles), str(root))
        results = _run(todo, jobs)
        bar = progress(results, desc="index", total=len(todo), unit="title",
                       disable=None if show_progress else True)
        for job, result in zip(todo, bar):
            if isinstance(result, TitleRecord):
                if originals.apply(result, report):
                    catalog.put_title(result)
                    report.indexed += 1
            else:
                error, reason = result
                catalog.put_failure(job.path, job.fingerprint, error, reason)
                report.failed += 1
                report.failures.append((job.path, reason))
        catalog.set_meta("last_index", {"root": str(root), "options": {
            "min_shot": options.min_shot, "max_shot": options.max_shot}})
    if originals.errors:
        raise CatalogError(f"{len(originals.errors)} original language(s) in {originals_csv} "
                           "name no track of their title; those titles were left as they were, "
                           "the rest is indexed. Fix the CSV and re-run:\n  "
                           + "\n  ".join(originals.errors))
    return report


def rel_name(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


class _Originals:
    """Which original language each title gets: the CSV's, else the one a previous run took
    from a CSV, else the default track's (already in the record)."""

    def __init__(self, rows: dict[str, OriginalRow], source: str | Path | None) -> None:
        self.rows, self.source = rows, source
        self.previous: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        self.errors: list[str] = []

    def apply(self, rec: TitleRecord, report: IndexReport) -> bool:
        """Set ``rec``'s original language; False when the CSV's cannot be used."""
        row = self.rows.get(rec.path)
        if row is not None:
            error = check_original(rec.name, row, rec.languages, self.source)
            if error:
                self.errors.append(error)
                return False
            rec.original_language, rec.original_source = row.language, ORIGINAL_FROM_CSV
            report.originals_from_csv += 1
            return True
        language, source, _ = self.previous.get(rec.path, (None, None, ()))
        if source == ORIGINAL_FROM_CSV:
            if language in rec.languages:
                rec.original_language, rec.original_source = language, ORIGINAL_FROM_CSV
            else:
                log.warning("%s: its original language %r (set from a CSV) has no track any "
                            "more; using the default track's %r", rec.name, language,
                            rec.original_language)
        return True

    def update_unchanged(self, catalog: Catalog, path: str, name: str,
                         report: IndexReport) -> None:
        row = self.rows.get(path)
        if row is None or path not in self.previous:
            return
        language, source, languages = self.previous[path]
        error = check_original(name, row, languages, self.source)
        if error:
            self.errors.append(error)
        elif (language, source) != (row.language, ORIGINAL_FROM_CSV):
            catalog.set_original(path, row.language, ORIGINAL_FROM_CSV)
            report.originals_from_csv += 1


def _run(todo: list[_Job], jobs: int):
    if jobs <= 1 or len(todo) <= 1:
        return (index_title(job) for job in todo)
    pool = ProcessPoolExecutor(max_workers=jobs)
    return _drain(pool, pool.map(index_title, todo, chunksize=1))


def _drain(pool: ProcessPoolExecutor, results):
    with pool:
        yield from results


def index_title(job: _Job) -> TitleRecord | tuple[str, str]:
    """Probe and cut one title; a failure comes back as ``(error class, reason)``."""
    try:
        return _index_title(job)
    except Exception as exc:  # noqa: BLE001 - any bad file is recorded, never fatal
        return type(exc).__name__, str(exc) or repr(exc)


def _index_title(job: _Job) -> TitleRecord | tuple[str, str]:
    path = Path(job.path)
    info = probe(path)
    if info.video is None:
        return "NoVideoStreamError", f"{path}: has no video stream"
    tracks = [TrackRecord(position=t.index, path=str(t.path), language=t.language,
                          kind="dialogue", is_default=t.default, stream_index=t.stream_index,
                          codec=t.codec, sample_rate=t.sample_rate, channels=t.channels,
                          duration=t.duration) for t in info.audio]
    sep = separated_track(path)
    if sep is not None:
        sep_audio = probe(sep).audio
        if not sep_audio:
            return "MediaError", f"{sep}: the separated track has no audio stream"
        sep_info = sep_audio[0]
        tracks.append(TrackRecord(position=-1, path=str(sep), language="und", kind="separated",
                                  codec=sep_info.codec, sample_rate=sep_info.sample_rate,
                                  channels=sep_info.channels, duration=sep_info.duration))
    default = next((t for t in tracks if t.is_default), tracks[0] if tracks else None)
    original = default.language if default else "und"
    if original == "und":
        original = next((t.language for t in tracks if t.language != "und"), "und")
    opts = job.options
    if job.csv_shots is not None:
        intervals, source = list(job.csv_shots), "csv"
    else:
        cuts, end = detect_cuts(path, opts.detector)
        intervals, source = shots_from_cuts(cuts, end), "detected"
    shots = [(s, e, keep_shot(s, e, opts.min_shot, opts.max_shot)) for s, e in intervals]
    return TitleRecord(name=job.name, path=str(path), fingerprint=job.fingerprint,
                       duration=info.duration, original_language=original, tracks=tracks,
                       shots=shots, fps=info.video.fps, width=info.video.width,
                       height=info.video.height, num_frames=info.video.num_frames,
                       shot_source=source)
