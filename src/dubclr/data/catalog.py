"""The title catalog: titles, audio tracks, shots and indexing failures in SQLite.

The schema is versioned (``meta.schema_version``) and the database runs in WAL mode, so a
training job can read while ``dubclr index`` appends. An older catalog is migrated in place
when it is opened. Reading is done through :class:`Catalog`; the dataset workers only ever
see plain :class:`ShotRecord` tuples.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dubclr.errors import CatalogError

SCHEMA_VERSION = 2

# Where a title's original (primary) language came from.
ORIGINAL_FROM_DEFAULT = "default-track"  # the default audio track (or the first tagged one)
ORIGINAL_FROM_CSV = "csv"  # `dubclr index --originals originals.csv`; kept by later runs

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS titles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,              -- path relative to the indexed folder, without extension
    path TEXT NOT NULL UNIQUE,       -- absolute path of the media file
    fingerprint TEXT NOT NULL,       -- size:mtime of the file and its sidecars
    duration REAL NOT NULL,
    fps REAL, width INTEGER, height INTEGER, num_frames INTEGER,
    original_language TEXT NOT NULL,
    original_source TEXT NOT NULL DEFAULT 'default-track',  -- 'default-track' or 'csv'
    shot_source TEXT NOT NULL,       -- 'detected' or 'csv'
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY,
    title_id INTEGER NOT NULL REFERENCES titles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,       -- index into probe(title).audio; -1 for a separated track
    path TEXT NOT NULL,
    stream_index INTEGER,
    language TEXT NOT NULL,
    kind TEXT NOT NULL,              -- 'dialogue' (a language track) or 'separated' (speech removed)
    codec TEXT, sample_rate INTEGER, channels INTEGER, duration REAL,
    is_default INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shots (
    id INTEGER PRIMARY KEY,
    title_id INTEGER NOT NULL REFERENCES titles(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    kept INTEGER NOT NULL            -- 1 when its length is within the index-time bounds
);
CREATE TABLE IF NOT EXISTS failures (
    path TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    error TEXT NOT NULL,             -- error class
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS shots_title ON shots(title_id);
CREATE INDEX IF NOT EXISTS tracks_title ON tracks(title_id);
"""

# version -> statements that bring a catalog of that version to the next one
_MIGRATIONS = {
    1: ["ALTER TABLE titles ADD COLUMN original_source TEXT NOT NULL DEFAULT 'default-track'"],
}


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
    duration: float = 0.0


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
    id: int | None = None

    @property
    def languages(self) -> list[str]:
        """Languages of the dialogue tracks, in track order."""
        return [t.language for t in self.tracks if t.kind == "dialogue"]


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

    @property
    def length(self) -> float:
        return self.end - self.start

    def track_for(self, language: str) -> int:
        return self.positions[self.languages.index(language)]


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
        try:
            conn = sqlite3.connect(str(path), timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            version = _schema_version(conn)
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{path}: not a dubclr catalog ({exc}); delete it and re-run "
                               "`dubclr index`") from None
        if version is None:
            if not create:
                conn.close()
                raise CatalogError(f"{path}: not a dubclr catalog (no schema version); "
                                   "re-run `dubclr index` to build one")
            with conn:
                conn.executescript(_SCHEMA)
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif version < SCHEMA_VERSION:
            _migrate(conn, path, version)
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
        """path -> fingerprint of every indexed title and every recorded failure."""
        rows = self.conn.execute("SELECT path, fingerprint FROM titles "
                                 "UNION ALL SELECT path, fingerprint FROM failures")
        return dict(rows.fetchall())

    def put_title(self, rec: TitleRecord) -> int:
        """Insert or replace a title with its tracks and shots (one transaction)."""
        with self.conn:
            self.conn.execute("DELETE FROM titles WHERE path = ?", (rec.path,))
            self.conn.execute("DELETE FROM failures WHERE path = ?", (rec.path,))
            cur = self.conn.execute(
                "INSERT INTO titles (name, path, fingerprint, duration, fps, width, height, "
                "num_frames, original_language, original_source, shot_source, indexed_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (rec.name, rec.path, rec.fingerprint, rec.duration, rec.fps, rec.width, rec.height,
                 rec.num_frames, rec.original_language, rec.original_source, rec.shot_source,
                 time.time()))
            title_id = int(cur.lastrowid)
            self.conn.executemany(
                "INSERT INTO tracks (title_id, position, path, stream_index, language, kind, codec, "
                "sample_rate, channels, duration, is_default) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(title_id, t.position, t.path, t.stream_index, t.language, t.kind, t.codec,
                  t.sample_rate, t.channels, t.duration, int(t.is_default)) for t in rec.tracks])
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

    # -- reading -----------------------------------------------------------------
    def failures(self) -> list[tuple[str, str, str]]:
        return self.conn.execute("SELECT path, error, reason FROM failures ORDER BY path").fetchall()

    def titles(self) -> list[TitleRecord]:
        """Every title with its tracks and shots."""
        tracks: dict[int, list[TrackRecord]] = {}
        for row in self.conn.execute(
                "SELECT title_id, position, path, language, kind, is_default, stream_index, codec, "
                "sample_rate, channels, duration FROM tracks ORDER BY title_id, position"):
            tracks.setdefault(row[0], []).append(TrackRecord(
                position=row[1], path=row[2], language=row[3], kind=row[4], is_default=bool(row[5]),
                stream_index=row[6], codec=row[7] or "", sample_rate=row[8] or 0,
                channels=row[9] or 0, duration=row[10] or 0.0))
        shots: dict[int, list[tuple[float, float, bool]]] = {}
        for tid, start, end, kept in self.conn.execute(
                "SELECT title_id, start, end, kept FROM shots ORDER BY title_id, idx"):
            shots.setdefault(tid, []).append((start, end, bool(kept)))
        out = []
        for row in self.conn.execute(
                "SELECT id, name, path, fingerprint, duration, fps, width, height, num_frames, "
                "original_language, shot_source, original_source FROM titles ORDER BY name, id"):
            out.append(TitleRecord(
                id=row[0], name=row[1], path=row[2], fingerprint=row[3], duration=row[4],
                fps=row[5] or 0.0, width=row[6] or 0, height=row[7] or 0, num_frames=row[8] or 0,
                original_language=row[9], shot_source=row[10], original_source=row[11],
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
        """Every kept shot of every title, ordered by title name then shot index."""
        out = []
        for title in self.titles():
            dialogue = [t for t in title.tracks if t.kind == "dialogue"]
            separated = next((t.path for t in title.tracks if t.kind == "separated"), None)
            langs = tuple(t.language for t in dialogue)
            positions = tuple(t.position for t in dialogue)
            shot_ids = self.conn.execute(
                "SELECT id, idx, start, end FROM shots WHERE title_id = ? AND kept = 1 ORDER BY idx",
                (title.id,)).fetchall()
            for sid, idx, start, end in shot_ids:
                out.append(ShotRecord(shot_id=sid, title_id=title.id, title=title.name,
                                      path=title.path, index=idx, start=start, end=end,
                                      original_language=title.original_language,
                                      languages=langs, positions=positions, separated=separated))
        return out


def _migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring an older catalog to SCHEMA_VERSION in one transaction (data is kept)."""
    try:
        with conn:
            conn.execute("BEGIN IMMEDIATE")  # the ALTERs and the version change, or nothing
            for v in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[v]:
                    conn.execute(statement)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                         (str(SCHEMA_VERSION),))
    except (KeyError, sqlite3.DatabaseError) as exc:
        conn.close()
        raise CatalogError(f"{path}: cannot upgrade catalog schema {version} to {SCHEMA_VERSION} "
                           f"({exc}); check the file is writable, or re-index into a new file"
                           ) from None


def _schema_version(conn: sqlite3.Connection) -> int | None:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else None
