"""The shard index: where each shot's members lie (byte offsets), which titles are built, which failed.

``OUT/index.sqlite`` (WAL, so readers can open it while a build appends):

    meta(key, value)                 format version, the build options (JSON)
    titles(name PK, path, fingerprint, options, shard, shots, bytes, seconds, duration,
           cpu_seconds, built_at)   seconds: kept shots; duration: the title
    records(title, shot, key, start, end, video_start, num_frames, width, height,
            languages, members)      PK (title, shot); languages: JSON list of dialogue
                                     languages; members: JSON {"json": [offset, size],
                                     "mp4": [...], "en.flac": [...], "separated.flac": [...]}
    failures(name PK, path, fingerprint, options, error, reason, at)

A title's rows are replaced in one transaction after its shard has been renamed into place, so
the index never points into a shard that is not complete.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from dubclr.errors import CatalogError

INDEX_VERSION = 1
INDEX_NAME = "index.sqlite"  # in the output folder, next to shards/

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS titles (
    name TEXT PRIMARY KEY, path TEXT NOT NULL, fingerprint TEXT NOT NULL, options TEXT NOT NULL,
    shard TEXT NOT NULL, shots INTEGER NOT NULL, bytes INTEGER NOT NULL,
    seconds REAL NOT NULL, duration REAL NOT NULL, cpu_seconds REAL NOT NULL,
    built_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    title TEXT NOT NULL REFERENCES titles(name) ON DELETE CASCADE,
    shot INTEGER NOT NULL, key TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL,
    video_start REAL NOT NULL, num_frames INTEGER NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, languages TEXT NOT NULL, members TEXT NOT NULL,
    PRIMARY KEY (title, shot)
);
CREATE TABLE IF NOT EXISTS failures (
    name TEXT PRIMARY KEY, path TEXT NOT NULL, fingerprint TEXT NOT NULL, options TEXT NOT NULL,
    error TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class RecordRow:
    """Where one shot's members are; what the reader looks up."""

    title: str
    shot: int
    key: str
    start: float
    end: float
    video_start: float
    num_frames: int
    width: int
    height: int
    languages: tuple[str, ...]
    members: dict[str, tuple[int, int]]  # member name after the key -> (offset, size)

    def to_sql(self) -> tuple:
        return (self.title, self.shot, self.key, self.start, self.end, self.video_start,
                self.num_frames, self.width, self.height, json.dumps(list(self.languages)),
                json.dumps({k: list(v) for k, v in self.members.items()}, sort_keys=True))

    @classmethod
    def from_sql(cls, row) -> RecordRow:
        members = {k: (int(v[0]), int(v[1])) for k, v in json.loads(row[10]).items()}
        return cls(row[0], int(row[1]), row[2], row[3], row[4], row[5], int(row[6]), int(row[7]),
                   int(row[8]), tuple(json.loads(row[9])), members)


@dataclass(frozen=True)
class TitleRow:
    name: str
    path: str
    fingerprint: str
    options: str
    shard: str  # relative to the output folder
    shots: int
    bytes: int
    seconds: float  # content seconds (sum of the kept shots)
    duration: float  # the title's length (all of it is decoded once)
    cpu_seconds: float  # of the build task (one thread)


class ShardIndex:
    """An open ``index.sqlite``; a context manager."""

    def __init__(self, path: str | Path, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise CatalogError(f"shard index not found: {self.path}; build shards with "
                               "`dubclr shards build CATALOG OUT`")
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=60)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            with self.conn:
                self.conn.executescript(_SCHEMA)
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)",
                                  (str(INDEX_VERSION),))
            version = int(self.conn.execute(
                "SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{self.path}: not a dubclr shard index ({exc}); delete it and "
                               "rebuild the shards") from None
        if version != INDEX_VERSION:
            self.conn.close()
            raise CatalogError(f"{self.path}: shard index version {version}, this dubclr reads "
                               f"{INDEX_VERSION}; rebuild the shards into a new folder")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ShardIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------
    def put_title(self, title: TitleRow, records: list[RecordRow]) -> None:
        """Replace a title's rows (its failure, if any, is forgotten)."""
        with self.conn:
            self.conn.execute("DELETE FROM records WHERE title = ?", (title.name,))
            self.conn.execute("DELETE FROM failures WHERE name = ?", (title.name,))
            self.conn.execute("INSERT OR REPLACE INTO titles VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                              (title.name, title.path, title.fingerprint, title.options,
                               title.shard, title.shots, title.bytes, title.seconds,
                               title.duration, title.cpu_seconds, time.time()))
            self.conn.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                  [r.to_sql() for r in records])

    def put_failure(self, name: str, path: str, fingerprint: str, options: str, error: str,
                    reason: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO failures VALUES (?,?,?,?,?,?,?)",
                              (name, path, fingerprint, options, error, reason, time.time()))

    def set_meta(self, key: str, value) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # -- reading -----------------------------------------------------------------
    def titles(self) -> dict[str, TitleRow]:
        rows = self.conn.execute("SELECT name, path, fingerprint, options, shard, shots, bytes, "
                                 "seconds, duration, cpu_seconds FROM titles ORDER BY name")
        return {r[0]: TitleRow(*r) for r in rows}

    def failures(self) -> dict[str, tuple[str, str, str, str, str]]:
        """name -> (path, fingerprint, options, error, reason)."""
        rows = self.conn.execute("SELECT name, path, fingerprint, options, error, reason "
                                 "FROM failures ORDER BY name")
        return {r[0]: tuple(r[1:]) for r in rows}

    def records(self, title: str) -> dict[int, RecordRow]:
        rows = self.conn.execute("SELECT * FROM records WHERE title = ? ORDER BY shot", (title,))
        return {int(r[1]): RecordRow.from_sql(r) for r in rows}

    def shard_of(self, title: str) -> str | None:
        row = self.conn.execute("SELECT shard FROM titles WHERE name = ?", (title,)).fetchone()
        return row[0] if row else None
