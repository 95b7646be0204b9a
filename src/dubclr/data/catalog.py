"""The title catalog: titles, audio tracks, shots and indexing failures in SQLite.

The schema is versioned (``meta.schema_version``) and the database runs in WAL mode, so a
training job can read while ``dubclr index`` appends. An older catalog is migrated in place
when it is opened. Reading is done through :class:`Catalog`; the dataset workers only ever
see plain :class:`ShotRecord` tuples.

Audio bounds. Each track records where its audio really is (``audio_start``/``audio_end``,
measured from its packets at index time; a catalog indexed before schema 3 has none and
falls back to the stated duration). A shot is trainable only where the title's
original-language track has audio over the whole shot (the primary audio a_p is in that
language). A dub, or the speech-removed track, whose audio does not cover a shot is left out
for that shot only: the shot stays with its other languages (``ShotRecord.audio_languages``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dubclr.data.catalog_schema import SCHEMA, SCHEMA_VERSION, migrate, schema_version
from dubclr.errors import CatalogError

_NOT_A_CATALOG_FIX = ("point --catalog at the file `dubclr index` wrote (catalog.sqlite by "
                      "default), or build one with `dubclr index DATA_DIR --catalog NEW.sqlite`")
COVER_TOLERANCE = 0.05  # seconds a track may miss at a shot's edges (one codec frame)

# Where a title's original (primary) language came from.
# Rules in order: the container's original flag, then --originals, then the default track.
ORIGINAL_FROM_FLAG = "original-flag"  # a track flagged original (Matroska FlagOriginal)
ORIGINAL_FROM_CSV = "csv"  # `dubclr index --originals originals.csv`; kept by later runs
ORIGINAL_FROM_DEFAULT = "default-track"  # the default audio track (or the first tagged one)


@dataclass(frozen=True)
class TrackRecord:
    position: int
    path: str
    language: str
    kind: str = "dialogue"
    is_default: bool = False
    stream_index: int | None = None
    codec: str = ""
    sample_rate: int = 0
    channels: int = 0
    duration: float = 0.0  # as the file states it
    audio_start: float | None = None  # measured extent of its audio; None: not measured
    audio_end: float | None = None

    @property
    def audio_interval(self) -> tuple[float, float]:
        """Seconds ``(start, end)`` holding audio: measured, else ``(0, stated duration)``."""
        start = 0.0 if self.audio_start is None else max(0.0, self.audio_start)
        return start, self.duration if self.audio_end is None else self.audio_end

    def covers(self, start: float, end: float) -> bool:
        """Whether the track has audio over all of ``[start, end]``."""
        return _within(self.audio_interval, start, end)


@dataclass
class TitleRecord:
    name: str
    path: str
    fingerprint: str
    duration: float
    original_language: str
    tracks: list[TrackRecord]
    shots: list[tuple[float, float, bool]]  # (start, end, kept)
    fps: float = 0.0
    width: int = 0
    height: int = 0
    num_frames: int = 0
    shot_source: str = "detected"
    original_source: str = ORIGINAL_FROM_DEFAULT
    stated_duration: float | None = None
    content_hash: str = ""
    id: int | None = None

    @property
    def languages(self) -> list[str]:
        """Languages of the dialogue tracks, in track order."""
        return [t.language for t in self.tracks if t.kind == "dialogue"]

    def original_track(self) -> TrackRecord | None:
        return next((t for t in self.tracks if t.kind == "dialogue"
                     and t.language == self.original_language), None)

    def trainable(self, start: float, end: float) -> bool:
        """The shot rule: the original-language track has audio over all of it."""
        original = self.original_track()
        return original is None or original.covers(start, end)  # no tracks: nothing to check


@dataclass(frozen=True)
class ShotRecord:
    """One trainable shot, with what a worker needs to decode it."""

    shot_id: int
    title_id: int
    title: str
    path: str
    index: int
    start: float
    end: float
    original_language: str
    languages: tuple[str, ...]  # dialogue track languages, in track order
    positions: tuple[int, ...]  # matching track positions for read_audio
    separated: str | None = None  # path of the speech-removed track, if any
    # where each track has audio, aligned with `languages`; the separated track's
    audio_bounds: tuple[tuple[float, float], ...] = ()
    separated_bounds: tuple[float, float] | None = None

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def audio_languages(self) -> tuple[str, ...]:
        """The languages with audio over the whole shot (the original always among them)."""
        return tuple(lang for lang, bounds in zip(self.languages, self._bounds())
                     if _within(bounds, self.start, self.end))

    def has_audio(self, language: str, start: float, end: float) -> bool:
        """Whether the ``language`` track (or ``'separated'``) has audio over ``[start, end]``."""
        if language == "separated":  # (unmeasured, before schema 3: taken as covering)
            return self.separated is not None and (
                self.separated_bounds is None or _within(self.separated_bounds, start, end))
        if language not in self.languages:
            return False
        return _within(self._bounds()[self.languages.index(language)], start, end)

    def _bounds(self) -> tuple[tuple[float, float], ...]:
        return self.audio_bounds or tuple((0.0, float("inf")) for _ in self.languages)

    def track_for(self, language: str) -> int:
        return self.positions[self.languages.index(language)]


def _within(bounds: tuple[float, float], start: float, end: float) -> bool:
    return bounds[0] <= start + COVER_TOLERANCE and end <= bounds[1] + COVER_TOLERANCE


@dataclass
class Catalog:
    """An open catalog. Use as a context manager or call :meth:`close`."""

    path: Path
    conn: sqlite3.Connection = field(repr=False)

    @classmethod
    def open(cls, path: str | Path, create: bool = False) -> Catalog:
        path = Path(path)
        if not create and not path.is_file():
            raise CatalogError(f"catalog not found: {path}; build it with "
                               f"`dubclr index DATA_DIR --catalog {path}`")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise CatalogError(f"{path} is a folder; give the catalog file, e.g. "
                               f"{path / 'catalog.sqlite'}")
        try:
            conn = sqlite3.connect(str(path), timeout=60)
            version = schema_version(conn)
            empty = version is None and not conn.execute(
                "SELECT 1 FROM sqlite_master LIMIT 1").fetchone()
            if version is not None or (create and empty):
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise CatalogError(f"{path}: not a dubclr catalog ({exc}). It was left as it is: "
                               f"{_NOT_A_CATALOG_FIX}") from None
        if version is None:
            if not (create and empty):
                conn.close()
                raise CatalogError(f"{path}: an SQLite database but not a dubclr catalog (no "
                                   f"schema version). It was left as it is: {_NOT_A_CATALOG_FIX}")
            with conn:
                conn.executescript(SCHEMA)
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif version < SCHEMA_VERSION:
            migrate(conn, path, version)
        elif version > SCHEMA_VERSION:
            conn.close()
            raise CatalogError(f"{path}: catalog schema version {version}, this dubclr reads "
                               f"version {SCHEMA_VERSION}; update dubclr or re-index into a new "
                               "file")
        return cls(path=path, conn=conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------
    def fingerprints(self) -> dict[str, str]:
        """path -> fingerprint of every indexed title and every recorded failure. Titles
        indexed before schema 3 (no content hash, audio never measured) are left out, so the
        next `dubclr index` measures them."""
        rows = self.conn.execute("SELECT path, fingerprint FROM titles WHERE content_hash IS "
                                 "NOT NULL UNION ALL SELECT path, fingerprint FROM failures")
        return dict(rows.fetchall())

    def put_title(self, rec: TitleRecord) -> int:
        """Insert or replace a title with its tracks and shots (one transaction)."""
        with self.conn:
            self.conn.execute("DELETE FROM titles WHERE path = ?", (rec.path,))
            self.conn.execute("DELETE FROM failures WHERE path = ?", (rec.path,))
            cur = self.conn.execute(
                "INSERT INTO titles (name, path, fingerprint, duration, stated_duration, "
                "content_hash, fps, width, height, num_frames, original_language, "
                "original_source, shot_source, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (rec.name, rec.path, rec.fingerprint, rec.duration, rec.stated_duration,
                 rec.content_hash or None, rec.fps, rec.width, rec.height, rec.num_frames,
                 rec.original_language, rec.original_source, rec.shot_source, time.time()))
            title_id = int(cur.lastrowid)
            self.conn.executemany(
                "INSERT INTO tracks (title_id, position, path, stream_index, language, kind, codec, "
                "sample_rate, channels, duration, is_default, audio_start, audio_end) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(title_id, t.position, t.path, t.stream_index, t.language, t.kind, t.codec,
                  t.sample_rate, t.channels, t.duration, int(t.is_default), t.audio_start,
                  t.audio_end) for t in rec.tracks])
            self.conn.executemany(
                "INSERT INTO shots (title_id, idx, start, end, kept) VALUES (?,?,?,?,?)",
                [(title_id, i, s, e, int(k)) for i, (s, e, k) in enumerate(rec.shots)])
        return title_id

    def set_original(self, path: str, language: str, source: str) -> None:
        """Set the original language of an indexed title (it must be one of its tracks)."""
        with self.conn:
            self.conn.execute("UPDATE titles SET original_language = ?, original_source = ? "
                              "WHERE path = ?", (language, source, path))

    def put_failure(self, path: str, fingerprint: str, error: str, reason: str) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM titles WHERE path = ?", (path,))
            self.conn.execute("INSERT OR REPLACE INTO failures VALUES (?,?,?,?,?)",
                              (path, fingerprint, error, reason, time.time()))

    def remove_missing(self, present: Iterable[str], under: str) -> int:
        """Forget titles/failures below folder ``under`` whose file is no longer there."""
        keep = set(present)
        prefix = under.rstrip("/") + "/"
        removed = 0
        with self.conn:
            for table in ("titles", "failures"):
                rows = self.conn.execute(f"SELECT path FROM {table} WHERE substr(path, 1, ?) = ?",
                                         (len(prefix), prefix)).fetchall()
                gone = [(p,) for (p,) in rows if p not in keep]
                self.conn.executemany(f"DELETE FROM {table} WHERE path = ?", gone)
                removed += len(gone) if table == "titles" else 0
        return removed

    def set_meta(self, key: str, value) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default=None):
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def roots(self) -> list[str]:
        """The folders indexed into this catalog (a catalog before schema 3: its last one)."""
        roots = self.get_meta("roots")
        if roots is None:
            last = self.get_meta("last_index") or {}
            roots = [last["root"]] if last.get("root") else []
        return list(roots)

    def add_root(self, root: str) -> None:
        roots = self.roots()
        if root not in roots:
            self.set_meta("roots", roots + [root])

    # -- reading -----------------------------------------------------------------
    def failures(self) -> list[tuple[str, str, str]]:
        return self.conn.execute("SELECT path, error, reason FROM failures ORDER BY path").fetchall()

    def duplicates(self) -> list[list[str]]:
        """Groups of title paths with identical content (same size and first/last MiB)."""
        groups: dict[str, list[str]] = {}
        for path, digest in self.conn.execute(
                "SELECT path, content_hash FROM titles WHERE content_hash IS NOT NULL "
                "ORDER BY path"):
            groups.setdefault(digest, []).append(path)
        return [paths for paths in groups.values() if len(paths) > 1]

    def dialogue_languages(self) -> list[str]:
        """Every language with a dialogue track in the catalog, sorted."""
        rows = self.conn.execute("SELECT DISTINCT language FROM tracks WHERE kind = 'dialogue'")
        return sorted(lang for (lang,) in rows)

    def media_paths(self) -> list[str]:
        """Every file the catalog points at: titles, sidecars and separated tracks."""
        rows = self.conn.execute("SELECT path FROM titles UNION SELECT path FROM tracks")
        return sorted(p for (p,) in rows)

    def titles(self) -> list[TitleRecord]:
        """Every title with its tracks and shots."""
        tracks: dict[int, list[TrackRecord]] = {}
        for row in self.conn.execute(
                "SELECT title_id, position, path, language, kind, is_default, stream_index, codec, "
                "sample_rate, channels, duration, audio_start, audio_end FROM tracks "
                "ORDER BY title_id, position"):
            tracks.setdefault(row[0], []).append(TrackRecord(
                position=row[1], path=row[2], language=row[3], kind=row[4], is_default=bool(row[5]),
                stream_index=row[6], codec=row[7] or "", sample_rate=row[8] or 0,
                channels=row[9] or 0, duration=row[10] or 0.0, audio_start=row[11],
                audio_end=row[12]))
        shots: dict[int, list[tuple[float, float, bool]]] = {}
        for tid, start, end, kept in self.conn.execute(
                "SELECT title_id, start, end, kept FROM shots ORDER BY title_id, idx"):
            shots.setdefault(tid, []).append((start, end, bool(kept)))
        out = []
        for row in self.conn.execute(
                "SELECT id, name, path, fingerprint, duration, fps, width, height, num_frames, "
                "original_language, shot_source, original_source, stated_duration, content_hash "
                "FROM titles ORDER BY name, id"):
            out.append(TitleRecord(
                id=row[0], name=row[1], path=row[2], fingerprint=row[3], duration=row[4],
                fps=row[5] or 0.0, width=row[6] or 0, height=row[7] or 0, num_frames=row[8] or 0,
                original_language=row[9], shot_source=row[10], original_source=row[11],
                stated_duration=row[12], content_hash=row[13] or "",
                tracks=tracks.get(row[0], []), shots=shots.get(row[0], [])))
        return out

    def originals(self) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        """path -> (original language, its source, dialogue languages) of every title."""
        languages: dict[int, list[str]] = {}
        for tid, lang in self.conn.execute(
                "SELECT title_id, language FROM tracks WHERE kind = 'dialogue' "
                "ORDER BY title_id, position"):
            languages.setdefault(tid, []).append(lang)
        rows = self.conn.execute("SELECT id, path, original_language, original_source FROM titles")
        return {path: (lang, source, tuple(languages.get(tid, ())))
                for tid, path, lang, source in rows}

    def shot_records(self) -> list[ShotRecord]:
        """Every trainable shot of every title (kept at index time, and with original-language
        audio over all of it), ordered by title name then shot index."""
        out = []
        for title in self.titles():
            dialogue = [t for t in title.tracks if t.kind == "dialogue"]
            separated = next((t for t in title.tracks if t.kind == "separated"), None)
            langs = tuple(t.language for t in dialogue)
            positions = tuple(t.position for t in dialogue)
            bounds = tuple(t.audio_interval for t in dialogue)
            shot_ids = self.conn.execute(
                "SELECT id, idx, start, end FROM shots WHERE title_id = ? AND kept = 1 ORDER BY idx",
                (title.id,)).fetchall()
            for sid, idx, start, end in shot_ids:
                if not title.trainable(start, end):
                    continue
                out.append(ShotRecord(
                    shot_id=sid, title_id=title.id, title=title.name, path=title.path, index=idx,
                    start=start, end=end, original_language=title.original_language,
                    languages=langs, positions=positions,
                    separated=separated.path if separated else None, audio_bounds=bounds,
                    separated_bounds=separated.audio_interval if separated else None))
        return out


def check_catalog_files(catalog: Catalog) -> list[str]:
    """Files the catalog names (titles, sidecars, separated tracks) that are not there."""
    return [p for p in catalog.media_paths() if not Path(p).is_file()]


def require_catalog_files(catalog: Catalog, shown: int = 10) -> None:
    """Raise one CatalogError listing every missing file, before any decoding starts."""
    missing = check_catalog_files(catalog)
    if not missing:
        return
    listed = "\n  ".join(missing[:shown])
    more = f"\n  ... and {len(missing) - shown} more" if len(missing) > shown else ""
    roots = " ".join(catalog.roots()) or "DATA_DIR"
    raise CatalogError(
        f"{catalog.path}: {len(missing)} file(s) it names are gone:\n  {listed}{more}\n"
        f"Put them back, or re-index so the catalog forgets them: "
        f"dubclr index {roots} --catalog {catalog.path}")
