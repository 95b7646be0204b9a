"""Content-keyed stage cache: ``OUT/cache/<title>/<stage>/<key>/``.

A key hashes the stage name, its parameters, the keys of the stages it reads and the identity
of the input files, so a change anywhere upstream gives new keys downstream. An entry is written
in a temporary folder and renamed into place with a ``_done.json`` inside: a crash leaves at
most a temporary folder, never a half entry, and the next run redoes only unfinished stages.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DONE = "_done.json"
_CHUNK = 1 << 20


def file_identity(path: str | Path) -> str:
    """Hash of a file's name, size and first and last MiB: cheap for long videos, and a
    changed or replaced file gets a new identity."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(f"{path.name}\0{size}\0".encode())
    with open(path, "rb") as f:
        h.update(f.read(_CHUNK))
        if size > 2 * _CHUNK:
            f.seek(size - _CHUNK)
            h.update(f.read(_CHUNK))
    return h.hexdigest()[:24]


def stage_key(stage: str, params: dict[str, Any], upstream: list[str] = (),
              inputs: list[str] = ()) -> str:
    blob = json.dumps({"stage": stage, "params": params, "upstream": list(upstream),
                       "inputs": list(inputs)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class StageCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, title: str, stage: str, key: str) -> Path:
        return self.root / title / stage / key

    def is_done(self, title: str, stage: str, key: str) -> bool:
        return (self.path(title, stage, key) / DONE).is_file()

    def meta(self, title: str, stage: str, key: str) -> dict:
        return json.loads((self.path(title, stage, key) / DONE).read_text())

    @contextmanager
    def write(self, title: str, stage: str, key: str, meta: dict) -> Iterator[Path]:
        """Yield an empty folder to fill; on success it becomes the entry (replacing an old
        one, as ``--force`` wants) with ``meta`` (updated in place by the caller) saved."""
        final = self.path(title, stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        tmp.mkdir()
        try:
            yield tmp
            (tmp / DONE).write_text(json.dumps(meta, indent=1, default=str))
            if final.exists():
                trash = final.parent / f".old-{key}-{uuid.uuid4().hex[:6]}"
                os.replace(final, trash)
                shutil.rmtree(trash, ignore_errors=True)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def clean_temporaries(self, titles: list[str] | None = None) -> int:
        """Remove folders left by crashed runs (of ``titles`` only, when given: array jobs
        sharing OUT must not delete each other's work in progress); returns how many."""
        count = 0
        for title in ["*"] if titles is None else map(glob.escape, titles):
            for tmp in [*self.root.glob(f"{title}/*/.tmp-*"), *self.root.glob(f"{title}/*/.old-*")]:
                shutil.rmtree(tmp, ignore_errors=True)
                count += 1
        return count
