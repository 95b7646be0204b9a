"""``dubclr index``: walk a folder of titles into the catalog.

Each title is probed (tracks, sidecars), read once end to end (the picture decoded for the
shot detector, every audio packet measured: what it really holds), cut into shots (detected,
or read from a CSV) and written in one transaction. Files whose size and mtime (and their
sidecars') are unchanged since the last run are skipped; a file that cannot be read, or whose
picture decodes to less than it states (cut short), goes to the ``failures`` table with its
reason and the run goes on.

A title's original language, by the first rule that applies (``titles.original_source``):
a track carrying the container's original flag (Matroska FlagOriginal; ``original-flag``),
then ``--originals`` (``csv``; kept by later runs, also when the title is re-indexed, as long
as the title still has a track in it), then the default track (``default-track``).

A catalog belongs to the folder(s) indexed into it (``Catalog.roots``): indexing another
folder into it needs ``add_root=True`` (``--add-root``), and titles with identical content
are reported (``IndexReport.duplicates``).
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dubclr.data.catalog import (
    COVER_TOLERANCE,
    ORIGINAL_FROM_CSV,
    ORIGINAL_FROM_DEFAULT,
    ORIGINAL_FROM_FLAG,
    Catalog,
    TitleRecord,
    TrackRecord,
)
from dubclr.data.originals import OriginalRow, check_original, match_originals, read_originals_csv
from dubclr.data.shots import DetectorConfig, keep_shot, read_shot_csv, scan_title, shots_from_cuts
from dubclr.errors import CatalogError
from dubclr.media import AUDIO_EXTENSIONS, AudioTrackInfo, find_titles, probe, sidecar_paths
from dubclr.media.extent import MediaExtent, scan_media, truncation
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
    warnings: list[str] = field(default_factory=list)  # short audio, CSV against a flag...
    duplicates: list[list[str]] = field(default_factory=list)  # paths with identical content


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


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """Identity of a file's content: its size and a SHA-256 of its first and last MiB
    (a renamed or copied file keeps it; reading 2 MiB costs nothing next to the decode)."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(chunk))
        if size > chunk:
            handle.seek(max(chunk, size - chunk))
            digest.update(handle.read(chunk))
    return f"{size}:{digest.hexdigest()[:20]}"


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
                 originals_csv: str | Path | None = None, add_root: bool = False,
                 show_progress: bool = True) -> IndexReport:
    """Index the titles below ``root``. A bad ``originals_csv`` row (a title without a track
    in that language) raises CatalogError after the run; that title is left as it was.
    ``root`` must be (inside) a folder the catalog already indexes, unless ``add_root``."""
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
        _check_root(catalog, root, add_root)
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
                    report.warnings.extend(audio_warnings(result))
            else:
                error, reason = result
                catalog.put_failure(job.path, job.fingerprint, error, reason)
                report.failed += 1
                report.failures.append((job.path, reason))
        catalog.set_meta("last_index", {"root": str(root), "options": {
            "min_shot": options.min_shot, "max_shot": options.max_shot}})
        report.duplicates = catalog.duplicates()
    if originals.errors:
        raise CatalogError(f"{len(originals.errors)} original language(s) in {originals_csv} "
                           "name no track of their title; those titles were left as they were, "
                           "the rest is indexed. Fix the CSV and re-run:\n  "
                           + "\n  ".join(originals.errors))
    return report


def rel_name(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _check_root(catalog: Catalog, root: Path, add_root: bool) -> None:
    """One catalog, one collection: another folder joins only when asked to."""
    roots = catalog.roots()
    inside = any(root == Path(r) or Path(r) in root.parents for r in roots)
    if roots and not inside and not add_root:
        raise CatalogError(
            f"{catalog.path} indexes {', '.join(roots)}; {root} is another folder. Indexing it "
            "here would merge two collections (a film in both would become its own negative). "
            "Pass --add-root to add it to this catalog, or use another --catalog")
    if not inside:
        catalog.add_root(str(root))


def audio_warnings(rec: TitleRecord) -> list[str]:
    """What the user should know about a title's audio: tracks that stop before the picture
    (their language is left out of the shots they do not cover) and shots dropped because
    the original-language track does not cover them."""
    out = []
    for track in rec.tracks:
        start, end = track.audio_interval
        if end < rec.duration - COVER_TOLERANCE or start > COVER_TOLERANCE:
            label = "speech-removed" if track.kind == "separated" else f"'{track.language}'"
            out.append(f"{rec.name}: the {label} track has audio from {start:.2f} to {end:.2f} s "
                       f"of a {rec.duration:.2f} s picture")
    dropped = [(s, e) for s, e, kept in rec.shots if kept and not rec.trainable(s, e)]
    if dropped:
        out.append(f"{rec.name}: {len(dropped)} shot(s) left out, the original "
                   f"'{rec.original_language}' track has no audio over them "
                   f"({', '.join(f'{s:.1f}-{e:.1f} s' for s, e in dropped[:4])})")
    return out


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
        if rec.original_source == ORIGINAL_FROM_FLAG:  # the file's own flag comes first
            if row is not None and row.language != rec.original_language:
                report.warnings.append(self._conflict(rec.name, rec.original_language, row))
            return True
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
        if source == ORIGINAL_FROM_FLAG:
            if row.language != language:
                report.warnings.append(self._conflict(name, language, row))
            return
        error = check_original(name, row, languages, self.source)
        if error:
            self.errors.append(error)
        elif (language, source) != (row.language, ORIGINAL_FROM_CSV):
            catalog.set_original(path, row.language, ORIGINAL_FROM_CSV)
            report.originals_from_csv += 1

    def _conflict(self, name: str, flagged: str, row: OriginalRow) -> str:
        return (f"{self.source}:{row.line}: {name} says '{row.language}' but its file flags the "
                f"'{flagged}' track as the original; the flag wins (remove the row, or fix the "
                "flag: mkvpropedit FILE --edit track:aN --set flag-original=0)")


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
    opts = job.options
    cuts, extent = scan_title(path, opts.detector if job.csv_shots is None else None)
    stated = info.video.duration or info.duration
    problem = truncation(extent, stated, info.video.fps)
    if problem:
        return "TruncatedMediaError", problem
    real_end = float(extent.video_end)
    scans = {info.path: extent}
    tracks = [_track_record(t, t.index, "dialogue", scans) for t in info.audio]
    sep = separated_track(path)
    if sep is not None:
        sep_audio = probe(sep).audio
        if not sep_audio:
            return "MediaError", f"{sep}: the separated track has no audio stream"
        tracks.append(_track_record(sep_audio[0], -1, "separated", scans))
    original, source = _original_language(info.audio)
    if job.csv_shots is not None:
        intervals, shot_source = list(job.csv_shots), "csv"
    else:
        intervals, shot_source = shots_from_cuts(cuts, real_end), "detected"
    shots = [(s, e, keep_shot(s, e, opts.min_shot, opts.max_shot)
              and e <= real_end + COVER_TOLERANCE) for s, e in intervals]
    return TitleRecord(name=job.name, path=str(path), fingerprint=job.fingerprint,
                       duration=real_end, stated_duration=stated, original_language=original,
                       original_source=source, tracks=tracks, shots=shots, fps=info.video.fps,
                       width=info.video.width, height=info.video.height,
                       num_frames=extent.video_frames or info.video.num_frames,
                       shot_source=shot_source, content_hash=content_hash(path))


def _track_record(track: AudioTrackInfo, position: int, kind: str,
                  scans: dict[Path, MediaExtent]) -> TrackRecord:
    """A track with the extent of its audio, measured from its packets."""
    if track.path not in scans:
        scans[track.path] = scan_media(track.path)  # a sidecar: packets only
    measured = scans[track.path].audio(track.stream_index)
    return TrackRecord(position=position, path=str(track.path), kind=kind,
                       language=track.language if kind == "dialogue" else "und",
                       is_default=track.default and kind == "dialogue",
                       stream_index=track.stream_index if kind == "dialogue" else None,
                       codec=track.codec, sample_rate=track.sample_rate, channels=track.channels,
                       duration=track.duration,
                       audio_start=measured.start if measured else None,
                       audio_end=measured.end if measured else None)


def _original_language(tracks: list[AudioTrackInfo]) -> tuple[str, str]:
    """The original language from the file alone: a flagged track, else the default one
    (else the first with a language). ``--originals`` is applied after, in the parent."""
    flagged = [t for t in tracks if t.original and t.language != "und"]
    if flagged:
        return flagged[0].language, ORIGINAL_FROM_FLAG
    default = next((t for t in tracks if t.default), tracks[0] if tracks else None)
    language = default.language if default else "und"
    if language == "und":
        language = next((t.language for t in tracks if t.language != "und"), "und")
    return language, ORIGINAL_FROM_DEFAULT
