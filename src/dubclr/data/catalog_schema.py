"""The catalog's SQLite schema, and the migrations that bring an older catalog up to it.

Bump ``SCHEMA_VERSION`` with every change and add the statements that take the previous
version to the new one to ``MIGRATIONS``; ``Catalog.open`` runs them in one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dubclr.errors import CatalogError

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS titles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,              -- path relative to the indexed folder, without extension
    path TEXT NOT NULL UNIQUE,       -- absolute path of the media file
    fingerprint TEXT NOT NULL,       -- size:mtime of the file and its sidecars
    duration REAL NOT NULL,          -- seconds of picture that decode (schema < 3: as stated)
    stated_duration REAL,            -- what the file says (NULL before schema 3)
    content_hash TEXT,               -- size + SHA-256 of its first and last MiB: same content
    fps REAL, width INTEGER, height INTEGER, num_frames INTEGER,
    original_language TEXT NOT NULL,
    original_source TEXT NOT NULL DEFAULT 'default-track',  -- original-flag, csv, default-track
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
    is_default INTEGER NOT NULL,
    audio_start REAL, audio_end REAL -- where its packets are (seconds); NULL: not measured
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
MIGRATIONS = {
    1: ["ALTER TABLE titles ADD COLUMN original_source TEXT NOT NULL DEFAULT 'default-track'"],
    2: ["ALTER TABLE titles ADD COLUMN stated_duration REAL",
        "ALTER TABLE titles ADD COLUMN content_hash TEXT",
        "ALTER TABLE tracks ADD COLUMN audio_start REAL",
        "ALTER TABLE tracks ADD COLUMN audio_end REAL"],
}


def migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring an older catalog to SCHEMA_VERSION in one transaction (data is kept)."""
    try:
        with conn:
            conn.execute("BEGIN IMMEDIATE")  # the ALTERs and the version change, or nothing
            for v in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[v]:
                    conn.execute(statement)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                         (str(SCHEMA_VERSION),))
    except (KeyError, sqlite3.DatabaseError) as exc:
        conn.close()
        raise CatalogError(f"{path}: cannot upgrade catalog schema {version} to {SCHEMA_VERSION} "
                           f"({exc}); check the file is writable, or re-index into a new file"
                           ) from None


def schema_version(conn: sqlite3.Connection) -> int | None:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else None
