"""Opening media with PyAV so that FFmpeg failures surface as typed errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import av

from dubclr.media.errors import CorruptMediaError, MediaError


def check_readable(path: str | Path) -> Path:
    """The path as a `Path`, or a `MediaError` saying why it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, expected a media file")
    if path.stat().st_size == 0:
        raise CorruptMediaError(f"{path}: file is empty (0 bytes); re-export or re-download it")
    return path


def corrupt(path: Path, exc: BaseException, doing: str) -> CorruptMediaError:
    """A `CorruptMediaError` for an FFmpeg failure while `doing` something with `path`."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return CorruptMediaError(
        f"{path}: cannot {doing} ({reason}); the file is damaged, truncated or not a "
        f"supported media format. Re-encode it (e.g. ffmpeg -i IN -c:v libx264 -c:a flac OUT.mkv)"
    )


@contextlib.contextmanager
def open_media(path: str | Path) -> Iterator[av.container.InputContainer]:
    """`av.open` for reading; FFmpeg errors while opening or using it become `CorruptMediaError`."""
    path = check_readable(path)
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise corrupt(path, exc, "open") from None
    try:
        yield container
    except av.FFmpegError as exc:
        raise corrupt(path, exc, "decode") from None
    finally:
        container.close()
