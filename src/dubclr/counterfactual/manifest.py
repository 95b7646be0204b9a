"""The JSONL manifest: one line per stage artifact and per output title, appended under a lock
so parallel workers and array jobs can share it."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.jsonl"


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    line = json.dumps({"time": round(time.time(), 3), **record}, ensure_ascii=False, default=str)
    with open(path, "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            if f.tell() > 0:  # start on a fresh line if a crash cut the last one short
                f.seek(f.tell() - 1)
                if f.read(1) != "\n":
                    line = "\n" + line
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """All records; a line cut short by a crash is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def latest_outputs(path: str | Path) -> dict[str, dict[str, Any]]:
    """The newest 'output' record per title."""
    out: dict[str, dict[str, Any]] = {}
    for rec in read_manifest(path):
        if rec.get("kind") == "output":
            out[rec["title"]] = rec
    return out
