"""One shot's record in a shard: its key, member names, JSON header and the tar that holds it.

A shard is a plain tar in the WebDataset layout. Every member of a shot shares its key
``<title key>/<shot index, 5 digits>``; what follows the key's first dot names the member:

    <key>.json            the header (:class:`ShotHeader`)
    <key>.mp4             the picture: H.264 at 25 fps, short side <= the build's short side
    <key>.<lang>.flac     each dialogue track, cut at the shot bounds (48 kHz, 16 bit)
    <key>.separated.flac  the speech-removed track, when the title has one

Tars are written deterministically (fixed mtime, owner and mode), so the same inputs give
the same bytes, and :class:`ShardWriter` records where each member's data starts.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = "dubclr-shot"
FORMAT_VERSION = 1
SEPARATED = "separated"  # the member name of the speech-removed track
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def title_key(name: str) -> str:
    """A file- and key-safe name for a title: its name with unsafe characters folded, plus a
    hash of the name so two titles never collide (``Film.2001`` -> ``Film_2001-1a2b3c4d``)."""
    slug = _UNSAFE.sub("_", name).strip("_")[-80:] or "title"
    return f"{slug}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def shot_key(title: str, shot: int) -> str:
    return f"{title}/{shot:05d}"


def audio_member(language: str) -> str:
    return f"{language}.flac"


@dataclass(frozen=True)
class TrackHeader:
    """One audio member: how it was made from the title's track."""

    channels: int  # stored channels: 2, or 1 for a mono source
    scale: float  # stored samples are wave / scale (a downmix can exceed full scale)
    source_channels: int
    source_layout: str  # FFmpeg's layout name, e.g. '5.1(side)'
    source_rate: int
    source_codec: str
    position: int  # the catalog's track position (-1: the separated track)


@dataclass(frozen=True)
class ShotHeader:
    """``<key>.json``: everything a reader needs besides the media bytes."""

    title: str  # the catalog's title name
    title_path: str  # the source file
    shot: int  # the catalog's shot index
    start: float  # shot bounds in title seconds
    end: float
    fps: float  # the shard grid (25): frame j is shown at video_start + j / fps
    video_start: float  # title time of the first frame (the first source frame in the shot)
    num_frames: int
    width: int
    height: int
    source_fps: float
    source_width: int
    source_height: int
    video_codec: str  # e.g. 'libx264 gop50 bf7 crf23 veryfast tune=fastdecode'
    sample_rate: int  # 48000
    audio_start: int  # title sample (at sample_rate) of each track's first stored sample
    num_samples: int
    languages: list[str]  # dialogue tracks stored, in the catalog's track order
    original_language: str
    separated: bool
    tracks: dict[str, TrackHeader] = field(default_factory=dict)  # by member language
    format: str = FORMAT
    version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> ShotHeader:
        raw = json.loads(data)
        if raw.get("format") != FORMAT or raw.get("version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} header: "
                             f"{raw.get('format')!r} v{raw.get('version')!r}")
        raw["tracks"] = {k: TrackHeader(**v) for k, v in raw.get("tracks", {}).items()}
        return cls(**raw)


@dataclass(frozen=True)
class MemberSpan:
    offset: int  # byte offset of the member's data in the tar
    size: int


class ShardWriter:
    """Writes members into a tar, deterministically, noting each data offset."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)

    def add(self, name: str, data: bytes) -> MemberSpan:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self._tar.addfile(info, io.BytesIO(data))
        padded = -(-len(data) // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        return MemberSpan(offset=self._tar.offset - padded, size=len(data))

    def close(self) -> None:
        """Finish the tar and flush it to disk (it is renamed into place by the caller)."""
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)

