"""Multi-track titles built from real recordings, the way movies arrive.

Pictures are cut from the two real videos (film and camera footage) and put together with
hard cuts, scaled to cover the title's size (centre crop) and re-timed at its frame rate
(the frames are real, the rate is re-labelled). Each audio track mixes the real speech of one
language (see :mod:`dubclr.testing.sources`) over real sound effects; a 5.1 track carries
the dialogue on its centre channel only, as film mixes do.

    media = build_real_media()            # cached under .cache/realmedia/titles-<key>/
    media.path("film_1080p_23976")        # a title;  media.spec(name) says what it holds
    media.copy_to(tmp_path, "short_audio_540p_25")   # a folder to index

Built once per version of this module and of the sources (about 9 s of CPU), then reused.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dubclr.media.audio import resample
from dubclr.media.writer import AudioTrack, write_title
from dubclr.testing.sources import DEFAULT_CACHE, Sources, locate

NTSC_FILM = Fraction(24000, 1001)  # 23.976 fps
NTSC_VIDEO = Fraction(30000, 1001)  # 29.97 fps
_PAUSE = 0.3  # seconds between two speech recordings
_LEAD_IN = 0.25  # seconds of effects before the first line


@dataclass(frozen=True)
class TrackSpec:
    tag: str | None  # the language tag written into the file, as odd as real files have it
    speech: str | None  # the language of the speech in it (None: music & effects only)
    codec: str
    sample_rate: int
    channels: int
    seconds: float | None = None  # shorter than the picture; None: as long as the picture
    default: bool = False
    original: bool = False  # Matroska FlagOriginal

    @property
    def language(self) -> str:
        """The ISO 639-1 code dubclr should read from ``tag``."""
        from dubclr.media import normalize_language
        return normalize_language(self.tag)


@dataclass(frozen=True)
class TitleSpec:
    size: tuple[int, int]  # width, height
    fps: Fraction
    # (film|camera, first frame, frames): each inside one real shot of its source (the camera
    # video cuts at frames 30, 137, 187 and 242; the film clip is one shot), so the title's
    # cuts are exactly the segment boundaries
    segments: tuple[tuple[str, int, int], ...]
    tracks: tuple[TrackSpec, ...]
    about: str

    @property
    def frames(self) -> int:
        return sum(n for _, _, n in self.segments)

    @property
    def seconds(self) -> float:
        return float(self.frames / self.fps)

    @property
    def cuts(self) -> list[float]:
        """Times of the hard cuts between segments."""
        edges, total = [], 0
        for _, _, n in self.segments[:-1]:
            total += n
            edges.append(float(total / self.fps))
        return edges


TITLES: dict[str, TitleSpec] = {
    "film_1080p_23976": TitleSpec(
        (1920, 1080), NTSC_FILM, (("film", 0, 84), ("camera", 30, 84)),
        (TrackSpec("eng", "en", "aac", 48000, 2, default=True),
         TrackSpec("spa", "es", "ac3", 48000, 6),
         TrackSpec("fre", "fr", "libopus", 48000, 2),
         TrackSpec("ita", "it", "flac", 44100, 1)),
        "1080p at 23.976 fps; English AAC (default), Spanish AC-3 5.1 with the dialogue on "
        "the centre channel, French Opus, Italian FLAC at 44.1 kHz"),
    "camera_480p_2997": TitleSpec(
        (854, 480), NTSC_VIDEO, (("camera", 30, 107), ("film", 0, 132)),
        (TrackSpec("en-US", "en", "flac", 48000, 2, default=True),
         TrackSpec("ES", "es", "aac", 44100, 1, seconds=4.0),
         TrackSpec("fr-CA", "fr", "libopus", 48000, 2),
         TrackSpec("zxx", None, "flac", 48000, 2)),
        "480p at 29.97 fps; odd tags (en-US, ES, fr-CA, zxx); the Spanish dub (AAC 44.1 kHz) "
        "stops at 4.0 s of 8.0 s; a music-and-effects track without language"),
    "short_audio_540p_25": TitleSpec(
        (960, 540), Fraction(25), (("film", 0, 132), ("camera", 30, 107)),
        (TrackSpec("eng", "en", "flac", 44100, 2, seconds=7.0, default=True),
         TrackSpec("spa", "es", "aac", 48000, 2)),
        "540p at 25 fps, 9.6 s; the original English track (FLAC 44.1 kHz) ends at 7.0 s"),
    "portrait_540x960_2997": TitleSpec(
        (540, 960), NTSC_VIDEO, (("film", 10, 100), ("camera", 30, 100)),
        (TrackSpec("eng", "en", "aac", 48000, 2, default=True),
         TrackSpec("ita", "it", "libopus", 48000, 1)),
        "portrait 540x960 at 29.97 fps; English AAC, Italian Opus mono"),
    "original_flag_360p_25": TitleSpec(
        (640, 360), Fraction(25), (("camera", 30, 100), ("film", 0, 100)),
        (TrackSpec("eng", "en", "aac", 48000, 2, default=True),
         TrackSpec("ita", "it", "flac", 48000, 2, original=True),
         TrackSpec("fre", "fr", "libopus", 48000, 2)),
        "360p at 25 fps; English is the default track, Italian carries the Matroska "
        "original flag"),
}
# truncated copies: name -> (source title, bytes kept)
TRUNCATED: dict[str, tuple[str, int]] = {
    "first_20k": ("original_flag_360p_25", 20_000),
    "cut_1m5": ("film_1080p_23976", 1_500_000),
}


@dataclass(frozen=True)
class RealMedia:
    """The built titles (``root``), their truncated copies (``broken``) and the sources."""

    root: Path
    broken: Path
    sources: Sources
    specs: dict[str, TitleSpec] = field(default_factory=lambda: dict(TITLES))

    def path(self, name: str) -> Path:
        if name in TRUNCATED:
            return self.broken / f"{name}.mkv"
        self.spec(name)
        return self.root / f"{name}.mkv"

    def spec(self, name: str) -> TitleSpec:
        if name not in self.specs:
            raise KeyError(f"no real title {name!r}; there are {sorted(self.specs)} and the "
                           f"truncated {sorted(TRUNCATED)}")
        return self.specs[name]

    def copy_to(self, folder: str | Path, *names: str) -> Path:
        """A folder holding copies of the named titles (to index, or to damage)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy2(self.path(name), folder / f"{name}.mkv")
        return folder

    def dialogue(self, language: str, seconds: float, sample_rate: int) -> np.ndarray:
        """The speech put into a track of ``language``: mono float32, ``seconds`` long."""
        return dialogue(self.sources, language, seconds, sample_rate)


def build_real_media(cache: str | Path = DEFAULT_CACHE, sources: Sources | None = None) -> RealMedia:
    """Build (or reuse) every title of :data:`TITLES` and the truncated copies."""
    cache = Path(cache)
    sources = sources or locate(cache)
    out = cache / f"titles-{_build_key(sources)}"
    if not (out / "complete").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".titles-", dir=cache))
        try:
            _build_all(sources, staging)
            (staging / "complete").write_text("ok\n")
            shutil.rmtree(out, ignore_errors=True)
            staging.rename(out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for old in cache.glob("titles-*"):  # builds of older versions
            if old != out:
                shutil.rmtree(old, ignore_errors=True)
    return RealMedia(root=out / "titles", broken=out / "broken", sources=sources)


def _build_key(sources: Sources) -> str:
    """Changes when this module or any source recording changes."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(Path(av.__file__).parent.name.encode() + av.__version__.encode())
    for path in [sources.film, sources.camera, *sorted(p for v in sources.speech.values()
                                                     for p in v), *sources.effects]:
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def _build_all(sources: Sources, out: Path) -> None:
    pictures = {"film": _decode_frames(sources.film), "camera": _decode_frames(sources.camera)}
    for name, spec in TITLES.items():
        write_title(out / "titles" / f"{name}.mkv", _picture(spec, pictures), spec.fps,
                    [_track(sources, spec, t) for t in spec.tracks], preset="ultrafast",
                    threads=2, crf=26, gop=round(2 * spec.fps))
    (out / "broken").mkdir()
    for name, (source, size) in TRUNCATED.items():
        data = (out / "titles" / f"{source}.mkv").read_bytes()
        if len(data) <= size:
            raise RuntimeError(f"{source}.mkv is {len(data)} bytes; cannot keep {size} of it")
        (out / "broken" / f"{name}.mkv").write_bytes(data[:size])


# ---------------------------------------------------------------- pictures


def _decode_frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _picture(spec: TitleSpec, pictures: dict[str, list[av.VideoFrame]]) -> Iterator[av.VideoFrame]:
    width, height = spec.size
    for source, first, count in spec.segments:
        frames = pictures[source]
        graph, src, sink = _cover_graph(frames[0], width, height)
        for k in range(count):
            frame = frames[(first + k) % len(frames)]
            frame.pts = k
            src.push(frame)
            yield sink.pull()


def _cover_graph(frame: av.VideoFrame, width: int, height: int):
    """An FFmpeg filter graph scaling to cover ``width`` x ``height`` (aspect kept) and
    cutting the centre, in the decoder's pixel format (no RGB round trip: 8x faster)."""
    scale = max(width / frame.width, height / frame.height)
    w, h = max(width, round(frame.width * scale)), max(height, round(frame.height * scale))
    graph = av.filter.Graph()
    src = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format.name,
                           time_base=Fraction(1, 25))
    chain = [src, graph.add("scale", f"{w}:{h}:flags=bilinear"),
             graph.add("crop", f"{width}:{height}"), graph.add("format", "yuv420p"),
             graph.add("buffersink")]
    for a, b in zip(chain, chain[1:]):
        a.link_to(b)
    graph.configure()
    return graph, src, chain[-1]


# ---------------------------------------------------------------- sound


@functools.lru_cache(maxsize=64)
def _decode_audio(path: Path, sample_rate: int) -> np.ndarray:
    """A whole recording as float32 ``(C, N)`` at ``sample_rate`` (cached: do not modify)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        converter = av.AudioResampler(format="fltp")
        chunks = [f.to_ndarray() for frame in container.decode(stream)
                  for f in converter.resample(frame)]
    return resample(np.concatenate(chunks, axis=1), rate, sample_rate)


def dialogue(sources: Sources, language: str, seconds: float, sample_rate: int) -> np.ndarray:
    """The language's recordings one after another (pauses between), ``seconds`` long, mono."""
    out = np.zeros(round(seconds * sample_rate), dtype=np.float32)
    position = round(_LEAD_IN * sample_rate)
    recordings = sources.speech[language]
    k = 0
    while position < len(out):
        clip = _decode_audio(recordings[k % len(recordings)], sample_rate).mean(axis=0)
        clip = 0.5 * clip / max(float(np.abs(clip).max()), 1e-6)
        end = min(len(out), position + len(clip))
        out[position:end] = clip[:end - position]
        position = end + round(_PAUSE * sample_rate)
        k += 1
    return out


def effects(sources: Sources, seconds: float, sample_rate: int) -> np.ndarray:
    """Real sound effects, one every 1.1 s, stereo ``(2, N)``."""
    out = np.zeros((2, round(seconds * sample_rate)), dtype=np.float32)
    for k, start in enumerate(np.arange(0.1, seconds, 1.1)):
        clip = _decode_audio(sources.effects[k % len(sources.effects)], sample_rate)
        clip = np.broadcast_to(clip, (2, clip.shape[1])) if clip.shape[0] == 1 else clip[:2]
        first = round(start * sample_rate)
        end = min(out.shape[1], first + clip.shape[1])
        out[:, first:end] += 0.25 * clip[:, :end - first]
    return out


def _track(sources: Sources, spec: TitleSpec, track: TrackSpec) -> AudioTrack:
    seconds = track.seconds or spec.seconds
    rate = track.sample_rate
    bed = effects(sources, seconds, rate)
    speech = (dialogue(sources, track.speech, seconds, rate) if track.speech
              else np.zeros(bed.shape[1], np.float32))
    if track.channels == 6:  # FL FR FC LFE BL BR: the dialogue on the centre only, effects
        # around it, well below it as in a film mix
        lfe = np.convolve(bed.mean(axis=0), np.ones(64) / 64, mode="same")
        samples = np.stack([0.2 * bed[0], 0.2 * bed[1], speech, 0.3 * lfe, 0.1 * bed[1],
                            0.1 * bed[0]])
    elif track.channels == 2:
        samples = bed + 0.7 * speech
    else:
        samples = (bed.mean(axis=0) + 0.7 * speech)[None]
    return AudioTrack(np.clip(samples, -1, 1).astype(np.float32), rate, language=track.tag,
                      codec=track.codec, default=track.default, original=track.original)
