"""Random access to shot records: the windows of a shot, from one read and one decode.

``ShardReader(OUT).read(title, shot, windows=[t_p, t_s], languages=["en", "es"])`` looks the
record up in ``OUT/index.sqlite``, reads only its members (by byte offset), decodes the union
of the windows' sampled frames in one pass and each window's audio in its language. Times are
title seconds, as the catalog's shots use. A window ``[t, t + clip)`` holds the shard frames
whose grid times ``video_start + j / 25`` fall in it (the rule `dubclr.media.read_video`
applies to source timestamps) and ``num_frames`` of them taken uniformly; its audio is the
``round(clip * 48000)`` samples from title sample ``round(t * 48000)``. A window that runs
past the shot's end repeats the last frame and pads audio with zeros.

The reader is safe to build before a DataLoader forks: index connections and the
RGB-conversion context are opened per process, on first use.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from av.video.reformatter import VideoReformatter

from dubclr.media.channels import downmix
from dubclr.media.errors import CorruptMediaError, WindowError
from dubclr.media.video import short_side_size, uniform_subsample_indices
from dubclr.shards.audio import decode_flac_window
from dubclr.shards.index import INDEX_NAME, RecordRow, ShardIndex
from dubclr.shards.lanes import choose_lane, decode_on_lane
from dubclr.shards.record import ShotHeader, audio_member

_EPS = 1e-6  # seconds, as in dubclr.media.video


@dataclass
class EncodedShot:
    """What a loader worker hands over for the cuda lane: bytes to decode, audio decoded."""

    header: ShotHeader
    video: bytes  # the record's mp4
    windows: list[float]
    frame_indices: list[np.ndarray]  # shard frames of each window
    size: tuple[int, int] | None  # (width, height) to scale to, None: as stored
    audio: list[np.ndarray | None]  # per window: (C, N) float32 at 48 kHz, or None
    planar: bool = False  # decode to (3, T, H, W) rather than (T, H, W, 3)


@dataclass
class ShotSample:
    """Decoded windows of one shot."""

    header: ShotHeader
    windows: list[float]
    frame_indices: list[np.ndarray]
    video: list = field(default_factory=list)  # per window (T, H, W, 3) uint8 (numpy or CUDA);
    # (3, T, H, W) when read with planar=True
    audio: list[np.ndarray | None] = field(default_factory=list)


class ShardReader:
    """Reads shot records of a shard folder (the OUT of `dubclr shards build`)."""

    def __init__(self, root: str | Path, *, decode_lane: str = "cpu", cache_titles: int = 64):
        self.root = Path(root)
        if not (self.root / INDEX_NAME).is_file():
            ShardIndex(self.root / INDEX_NAME)  # raises the CatalogError saying what to run
        self.lane = choose_lane(decode_lane)
        self.cache_titles = cache_titles
        self._pid: int | None = None
        self._index: ShardIndex | None = None
        self._records: OrderedDict[str, tuple[str, dict[int, RecordRow]]] = OrderedDict()
        self._reformatter: VideoReformatter | None = None

    # -- lookup ------------------------------------------------------------------
    def record(self, title: str, shot: int) -> tuple[Path, RecordRow]:
        """The shard file and index row of a shot; CorruptMediaError when it is not built."""
        if self._pid != os.getpid():  # first use in this process (e.g. a forked worker)
            self._pid, self._index, self._reformatter = os.getpid(), None, VideoReformatter()
            self._records.clear()
        if title not in self._records:
            if self._index is None:
                self._index = ShardIndex(self.root / INDEX_NAME)
            self._records[title] = (self._index.shard_of(title) or "",
                                    self._index.records(title))
            while len(self._records) > self.cache_titles:
                self._records.popitem(last=False)
        self._records.move_to_end(title)
        shard, rows = self._records[title]
        if shot not in rows:
            raise CorruptMediaError(f"{self.root}: no shard record for title {title!r} shot "
                                    f"{shot}; build it with `dubclr shards build CATALOG "
                                    f"{self.root}` (is the title in the catalog, the shot kept?)")
        return self.root / shard, rows[shot]

    # -- reading -----------------------------------------------------------------
    def fetch(self, title: str, shot: int, windows: Sequence[float],
              languages: Sequence[str | None], *, clip_seconds: float = 3.0,
              num_frames: int | None = 16, short_side: int | None = None,
              channels: int | None = 2, video: bool = True, planar: bool = False
              ) -> EncodedShot:
        """Read a shot's record and decode its audio windows; the video stays encoded.

        ``languages[i]`` is the audio of ``windows[i]`` (a language, 'separated', or None for
        no audio). ``channels``: 1 or 2 to fold to, None to keep what is stored."""
        if len(languages) != len(windows):
            raise ValueError(f"one language per window: {len(windows)} windows, "
                             f"{len(languages)} languages")
        path, row = self.record(title, shot)
        wanted = ["json"] + ([_video_member(row)] if video else []) + sorted(
            {audio_member(lang) for lang in languages if lang is not None})
        missing = [m for m in wanted if m not in row.members]
        if missing:
            raise CorruptMediaError(f"{path}: {row.key} has no {missing} (stored: "
                                    f"{sorted(row.members)}); that track is not in the title")
        members = _read_members(path, row, wanted)
        header = ShotHeader.from_json(members["json"])
        for t in windows:
            if not header.start - _EPS <= t < header.end:
                raise WindowError(f"{title} shot {shot}: window start {t:.3f} s is outside the "
                                  f"shot [{header.start:.3f}, {header.end:.3f}) s")
        frame_indices = [window_frames(header, t, clip_seconds, num_frames) for t in windows]
        audio = [None if lang is None else self._audio(header, members, lang, t, clip_seconds,
                                                       channels, path)
                 for t, lang in zip(windows, languages)]
        size = None
        if short_side is not None and min(header.width, header.height) > short_side:
            # the size `read_video(short_side=)` gives the original (long side floored)
            size = short_side_size(header.source_width, header.source_height, short_side)
        return EncodedShot(header=header, video=members.get(_video_member(row), b""),
                           windows=list(windows), frame_indices=frame_indices, size=size,
                           audio=audio, planar=planar)

    def read(self, title: str, shot: int, windows: Sequence[float],
             languages: Sequence[str | None], *, clip_seconds: float = 3.0,
             num_frames: int | None = 16, short_side: int | None = None,
             channels: int | None = 2, video: bool = True, planar: bool = False) -> ShotSample:
        """Decoded windows of a shot: video ``(T, H, W, 3)`` uint8 per window (one decode
        for all windows; ``planar``: ``(3, T, H, W)``), audio ``(C, N)`` float32 at 48 kHz
        per window in its language."""
        encoded = self.fetch(title, shot, windows, languages, clip_seconds=clip_seconds,
                             num_frames=num_frames, short_side=short_side, channels=channels,
                             video=video, planar=planar)
        return self.decode(encoded) if video else ShotSample(
            encoded.header, encoded.windows, encoded.frame_indices, [], encoded.audio)

    def decode(self, encoded: EncodedShot) -> ShotSample:
        """Decode a fetched shot's video on this reader's lane."""
        video = decode_on_lane(self.lane, encoded.video, encoded.frame_indices,
                               size=encoded.size,
                               name=f"{encoded.header.title} shot {encoded.header.shot}",
                               reformatter=self._reformatter, planar=encoded.planar)
        return ShotSample(encoded.header, encoded.windows, encoded.frame_indices, video,
                          encoded.audio)

    def _audio(self, header: ShotHeader, members: dict[str, bytes], language: str, t: float,
               clip_seconds: float, channels: int | None, path: Path) -> np.ndarray:
        track = header.tracks[language]
        rate = header.sample_rate
        first = round(t * rate) - header.audio_start
        wave = decode_flac_window(members[audio_member(language)], first,
                                  round(clip_seconds * rate), scale=track.scale,
                                  name=f"{path} {header.title} shot {header.shot} {language}")
        if channels is not None and wave.shape[0] != channels:
            wave = downmix(wave, channels)
        return wave


def window_frames(header: ShotHeader, start: float, clip_seconds: float,
                  num_frames: int | None) -> np.ndarray:
    """Shard frame indices of the window ``[start, start + clip)`` (uniformly subsampled)."""
    fps = header.fps
    first = max(0, math.ceil((start - _EPS - header.video_start) * fps))
    stop = math.ceil((start + clip_seconds - _EPS - header.video_start) * fps)
    stop = max(first + 1, stop)  # at least one frame (repeated when the shot ends early)
    indices = np.arange(first, stop)
    indices = np.minimum(indices, header.num_frames - 1)
    if num_frames is not None:
        indices = indices[uniform_subsample_indices(len(indices), num_frames)]
    return indices


def _video_member(row: RecordRow) -> str:
    return next((m for m in ("mp4", "mkv") if m in row.members), "mp4")


def _read_members(path: Path, row: RecordRow, names: Sequence[str]) -> dict[str, bytes]:
    out = {}
    try:
        with open(path, "rb") as fh:
            for name in sorted(names, key=lambda n: row.members[n][0]):
                offset, size = row.members[name]
                fh.seek(offset)
                out[name] = fh.read(size)
                if len(out[name]) != size:
                    raise CorruptMediaError(f"{path}: ends inside {row.key}.{name}; the shard is "
                                            "truncated: rebuild its title")
    except FileNotFoundError:
        raise CorruptMediaError(f"{path}: shard missing (moved or deleted?); rebuild with "
                                "`dubclr shards build`") from None
    return out


