"""Build one title's shard: one picture decode, every kept shot a record, the tar renamed into place.

:func:`build_title` is what a Ray task runs (`dubclr.shards.pipeline` schedules it). It writes
``OUT/shards/<title key>.tar`` under a temporary name, fsyncs it and renames it, and returns
the rows the index records. The same inputs give the same bytes (one encoder thread, fixed
tar headers), so a resumed build equals an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dubclr.atomic import fsync_path
from dubclr.media.audio import read_audio
from dubclr.media.probe import probe
from dubclr.shards.audio import encode_flac, fold_channels, track_layout
from dubclr.shards.index import RecordRow, TitleRow
from dubclr.shards.record import (
    SEPARATED,
    ShardWriter,
    ShotHeader,
    TrackHeader,
    audio_member,
    shot_key,
    title_key,
)
from dubclr.shards.scan import PictureInfo, ShotFrames, scan_shots
from dubclr.shards.video import SHARD_FPS, VideoCodec, encode_clip

SHARDS_DIR = "shards"
log = logging.getLogger("dubclr.shards")
TMP_MARK = ".tmp-"


@dataclass(frozen=True)
class ShardOptions:
    """What a shard holds; a title is rebuilt when these change."""

    short_side: int = 320  # the top of the training scale range; never upscaled
    video: VideoCodec = field(default_factory=VideoCodec)
    sample_rate: int = 48000

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ShardOptions:
        raw = json.loads(text)
        video = raw.pop("video")
        video["extra"] = tuple(tuple(x) for x in video.get("extra", ()))
        return cls(video=VideoCodec(**video), **raw)


@dataclass(frozen=True)
class TrackJob:
    position: int  # the catalog's track position (-1 for the separated track)
    path: str
    language: str  # member name: a language, or 'separated'
    kind: str  # 'dialogue' or 'separated'


@dataclass(frozen=True)
class TitleJob:
    """One title to build, as plain data (it travels to Ray workers as JSON)."""

    name: str
    path: str
    fingerprint: str  # changes when the title's files, tracks or kept shots change
    duration: float
    original_language: str
    tracks: tuple[TrackJob, ...]
    shots: tuple[tuple[int, float, float], ...]  # kept shots: (index, start, end)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TitleJob:
        raw = json.loads(text)
        raw["tracks"] = tuple(TrackJob(**t) for t in raw["tracks"])
        raw["shots"] = tuple(tuple(s) for s in raw["shots"])
        return cls(**raw)


def job_fingerprint(catalog_fingerprint: str, original_language: str, tracks, shots) -> str:
    text = json.dumps([catalog_fingerprint, original_language,
                       [asdict(t) for t in tracks], [list(s) for s in shots]])
    return hashlib.sha1(text.encode()).hexdigest()


def shard_path(out_dir: Path, name: str) -> Path:
    return out_dir / SHARDS_DIR / f"{title_key(name)}.tar"


def build_title(job: TitleJob, out_dir: Path, options: ShardOptions
                ) -> tuple[TitleRow, list[RecordRow]]:
    """Write the title's shard; raises MediaError (or OSError) when the title cannot be read."""
    cpu0 = time.process_time()
    final = shard_path(out_dir, job.name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    sources = [_AudioSource.open(job, track) for track in job.tracks]
    picture, shots = scan_shots(job.path, job.shots, options.short_side)
    key = title_key(job.name)
    writer = ShardWriter(tmp)
    records = []
    try:
        for shot in shots:
            header, members = _record(job, shot, picture, sources, options)
            name = shot_key(key, shot.index)
            spans = {member: writer.add(f"{name}.{member}", data) for member, data in members}
            records.append(RecordRow(
                title=job.name, shot=shot.index, key=name, start=shot.start, end=shot.end,
                video_start=shot.video_start, num_frames=header.num_frames, width=header.width,
                height=header.height, languages=tuple(header.languages),
                members={m: (s.offset, s.size) for m, s in spans.items()}))
        writer.close()
        os.replace(tmp, final)
        fsync_path(final.parent)
    except BaseException:
        writer.abort()
        raise
    title = TitleRow(name=job.name, path=job.path, fingerprint=job.fingerprint,
                     options=options.to_json(), shard=final.relative_to(out_dir).as_posix(),
                     shots=len(records), bytes=final.stat().st_size,
                     seconds=sum(r.end - r.start for r in records), duration=job.duration,
                     cpu_seconds=time.process_time() - cpu0)
    return title, records


def build_row(row: dict, out_dir: str, options: str) -> dict:
    """The Ray Data map function: one title in, its index rows (or its failure) out."""
    job = TitleJob.from_json(row["job"])
    try:
        title, records = build_title(job, Path(out_dir), ShardOptions.from_json(options))
    except Exception as exc:  # a title that fails is recorded and the build goes on
        log.warning("%s: %s: %s", job.name, type(exc).__name__, exc)
        return {"name": job.name, "ok": False, "result": "", "error": type(exc).__name__,
                "reason": str(exc) or repr(exc)}
    result = {"title": asdict(title), "records": [_record_dict(r) for r in records]}
    return {"name": job.name, "ok": True, "result": json.dumps(result), "error": "",
            "reason": ""}


def _record_dict(row: RecordRow) -> dict:
    raw = asdict(row)
    raw["languages"] = list(row.languages)
    raw["members"] = {k: list(v) for k, v in row.members.items()}
    return raw


def _record(job: TitleJob, shot: ShotFrames, picture: PictureInfo, sources, options
            ) -> tuple[ShotHeader, list[tuple[str, bytes]]]:
    codec = options.video
    video = encode_clip(shot.frames, picture.shard_width, picture.shard_height, codec,
                        colour=picture.colour)
    rate = options.sample_rate
    first = round(shot.start * rate)
    count = round(shot.end * rate) - first
    audio, tracks = [], {}
    for source in sources:
        wave, scale = source.cut(first, count, rate)
        audio.append((audio_member(source.track.language), encode_flac(wave, rate, scale)))
        tracks[source.track.language] = source.header(wave.shape[0], scale)
    header = ShotHeader(
        title=job.name, title_path=job.path, shot=shot.index, start=shot.start, end=shot.end,
        fps=SHARD_FPS, video_start=shot.video_start, num_frames=len(shot.frames),
        width=picture.shard_width, height=picture.shard_height, source_fps=picture.fps,
        source_width=picture.width, source_height=picture.height,
        video_codec=codec.describe(), sample_rate=rate, audio_start=first, num_samples=count,
        languages=[s.track.language for s in sources if s.track.kind == "dialogue"],
        original_language=job.original_language,
        separated=any(s.track.kind == SEPARATED for s in sources), tracks=tracks)
    return header, [("json", header.to_json()), (codec.extension, video)] + audio


@dataclass
class _AudioSource:
    """One audio track of the title, cut shot by shot with the sample-exact window reader."""

    track: TrackJob
    path: Path
    index: int | None  # track argument of read_audio (None: the file's default track)
    names: tuple[str, ...]
    layout: str
    rate: int
    codec: str

    @classmethod
    def open(cls, job: TitleJob, track: TrackJob) -> _AudioSource:
        info = probe(track.path)
        index = track.position if track.kind == "dialogue" else None
        chosen = info.audio[index] if index is not None else next(
            (t for t in info.audio if t.default), info.audio[0])
        names, layout = track_layout(chosen.path, chosen.stream_index)
        return cls(track, info.path, index, names, layout, chosen.sample_rate, chosen.codec)

    def cut(self, first: int, count: int, rate: int) -> tuple[np.ndarray, float]:
        wave = read_audio(self.path, first / rate, count / rate, track=self.index,
                          sample_rate=rate, mono=False)
        return fold_channels(wave, self.names)

    def header(self, channels: int, scale: float) -> TrackHeader:
        return TrackHeader(channels=channels, scale=scale, source_channels=len(self.names),
                           source_layout=self.layout, source_rate=self.rate,
                           source_codec=self.codec, position=self.track.position)
