"""Crash-safe file publishing: write into a temporary directory, fsync, then rename.

A directory published with :func:`publish_dir` either exists complete or not at all,
whatever moment a process is killed at; used by model and training checkpoints.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def fsync_path(path: str | Path) -> None:
    """fsync a file or a directory (a directory's entry list, after a rename)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish_dir(tmp: Path, final: Path) -> Path:
    """fsync every file of ``tmp`` and ``tmp`` itself, then rename it to ``final``.

    An existing ``final`` is moved aside first and deleted after the rename, so a reader
    sees the old or the new directory, never a mix."""
    for item in tmp.iterdir():
        if item.is_file():
            fsync_path(item)
    fsync_path(tmp)
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)
    fsync_path(final.parent)
    return final
