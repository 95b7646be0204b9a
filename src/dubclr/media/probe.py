"""What a title holds: its video stream and every audio track, sidecar files included.

A title is one media file plus audio sidecars next to it named `<stem>.<language>.<ext>`
(`Movie.mkv` + `Movie.es.flac`, `Movie.fr.wav`). Stream durations in Matroska come from the
`DURATION` tag the muxer writes, because `stream.duration` there is the container's.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import av

from dubclr.media.container import check_readable, open_media
from dubclr.media.errors import MediaError
from dubclr.media.languages import is_language_tag, normalize_language

VIDEO_EXTENSIONS = frozenset(
    {".mkv", ".mp4", ".m4v", ".mov", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".flv", ".wmv"}
)
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".mka", ".ac3", ".eac3", ".wma"}
)

_TAG_DURATION = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*$")


@dataclass(frozen=True)
class VideoStreamInfo:
    index: int  # stream index in the file
    fps: float
    width: int
    height: int
    codec: str
    num_frames: int
    duration: float
    sar: float = 1.0  # sample (pixel) aspect ratio; 1.0 for square pixels or when unstated


@dataclass(frozen=True)
class AudioTrackInfo:
    index: int  # position in TitleInfo.audio
    stream_index: int | None  # stream index inside `path`
    path: Path  # the file holding the track: the title itself or a sidecar
    codec: str
    sample_rate: int
    channels: int
    duration: float
    language: str  # ISO 639-1, or 'und'
    default: bool
    original: bool = False  # the container flags it as the original language (Matroska FlagOriginal)
    layout: tuple[str, ...] = ()  # channel names (FL FR FC LFE ...), FFmpeg's; () if unknown


@dataclass(frozen=True)
class TitleInfo:
    path: Path
    duration: float
    video: VideoStreamInfo | None
    audio: list[AudioTrackInfo] = field(default_factory=list)

    @property
    def languages(self) -> list[str]:
        """Languages of the audio tracks, in track order (may repeat, may hold 'und')."""
        return [track.language for track in self.audio]


def probe(path: str | Path) -> TitleInfo:
    """Probe a title (and its sidecars). Cached per file version, so repeated calls are cheap."""
    path = check_readable(path).resolve()
    stat = path.stat()
    folder_mtime = path.parent.stat().st_mtime_ns  # changes when a sidecar is added or removed
    return _probe_cached(path, stat.st_mtime_ns, stat.st_size, folder_mtime)


@functools.lru_cache(maxsize=512)
def _probe_cached(path: Path, _mtime: int, _size: int, _folder_mtime: int) -> TitleInfo:
    with open_media(path) as container:
        duration = _container_duration(container)
        video = _video_info(container)
        own = _audio_tracks(container, path, start_index=0, fallback_language=_name_language(path))
    tracks = own + _sidecar_tracks(path, start_index=len(own))
    if tracks and not any(t.default for t in tracks):
        tracks[0] = _replace_default(tracks[0])
    if duration <= 0:
        duration = max([video.duration if video else 0.0] + [t.duration for t in tracks])
    return TitleInfo(path=path, duration=duration, video=video, audio=tracks)


def find_titles(root: str | Path) -> list[Path]:
    """Video files below ``root`` (sorted), hidden files and folders skipped."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if Path(name).suffix.lower() in VIDEO_EXTENSIONS and not name.startswith("."):
                found.append(Path(folder) / name)
    return found


def sidecar_paths(path: str | Path) -> list[tuple[str, Path]]:
    """`(language, path)` of the audio sidecars of a title, sorted by file name."""
    path = Path(path)
    prefix = path.stem + "."
    found = []
    for candidate in sorted(path.parent.iterdir()):
        if candidate == path or not candidate.name.startswith(prefix):
            continue
        if candidate.suffix.lower() not in AUDIO_EXTENSIONS or not candidate.is_file():
            continue
        tag = candidate.name[len(prefix):-len(candidate.suffix)]
        if "." not in tag and is_language_tag(tag):
            found.append((normalize_language(tag), candidate))
    return found


def stream_duration(stream: av.stream.Stream, container_duration: float) -> float:
    """Seconds of one stream: Matroska `DURATION` tag, else stream.duration, else the container's."""
    for key, value in stream.metadata.items():
        if key.upper().startswith("DURATION"):
            parsed = _parse_tag_duration(value)
            if parsed is not None:
                return parsed
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container_duration


def _parse_tag_duration(value: str) -> float | None:
    match = _TAG_DURATION.match(value)
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _container_duration(container: av.container.InputContainer) -> float:
    if container.duration is None or container.duration < 0:
        return 0.0
    return container.duration / av.time_base


def _video_info(container: av.container.InputContainer) -> VideoStreamInfo | None:
    container_duration = _container_duration(container)
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue  # cover art, not a picture track
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = stream_duration(stream, container_duration)
        frames = stream.frames if stream.frames > 0 else round(duration * fps)
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        return VideoStreamInfo(index=stream.index, fps=fps, width=stream.codec_context.width,
                               height=stream.codec_context.height, codec=stream.codec_context.name,
                               num_frames=int(frames), duration=duration,
                               sar=float(sar) if sar and sar > 0 else 1.0)
    return None


def _audio_tracks(container: av.container.InputContainer, path: Path, start_index: int,
                  fallback_language: str, is_sidecar: bool = False) -> list[AudioTrackInfo]:
    container_duration = _container_duration(container)
    tracks = []
    for stream in container.streams.audio:
        language = normalize_language(stream.metadata.get("language"))
        if language == "und":
            language = fallback_language
        ctx = stream.codec_context
        layout = tuple(c.name for c in ctx.layout.channels) if ctx.layout else ()
        disposition = stream.disposition
        tracks.append(AudioTrackInfo(
            index=start_index + len(tracks), stream_index=stream.index, path=path,
            codec=ctx.name, sample_rate=int(ctx.sample_rate or stream.rate or 0),
            channels=int(ctx.channels or len(layout)),
            duration=stream_duration(stream, container_duration), language=language,
            default=bool(disposition & av.stream.Disposition.default) and not is_sidecar,
            original=bool(disposition & av.stream.Disposition.original) and not is_sidecar,
            layout=layout if len(layout) == int(ctx.channels or len(layout)) else (),
        ))
    return tracks


def _sidecar_tracks(path: Path, start_index: int) -> list[AudioTrackInfo]:
    tracks: list[AudioTrackInfo] = []
    for language, sidecar in sidecar_paths(path):
        try:
            with open_media(sidecar) as container:
                found = _audio_tracks(container, sidecar, start_index + len(tracks), language,
                                      is_sidecar=True)
        except MediaError as exc:
            raise MediaError(f"sidecar of {path.name}: {exc}") from None
        # a sidecar's name states its language; it wins over an inner tag
        tracks.extend(_with_language(t, language) for t in found[:1])
    return tracks


def _name_language(path: Path) -> str:
    """`Movie.es.flac` -> 'es' (a sidecar probed on its own), else 'und'."""
    parts = path.name.split(".")
    if len(parts) >= 3 and is_language_tag(parts[-2]):
        return normalize_language(parts[-2])
    return "und"


def _replace_default(track: AudioTrackInfo) -> AudioTrackInfo:
    return AudioTrackInfo(**{**track.__dict__, "default": True})


def _with_language(track: AudioTrackInfo, language: str) -> AudioTrackInfo:
    return AudioTrackInfo(**{**track.__dict__, "language": language})
