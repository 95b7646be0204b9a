"""Shared fixtures: a tiny synthetic corpus (built once per session) and small media files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dubclr.media.writer import AudioTrack, write_audio, write_title
from dubclr.testing.sources import MissingTestMedia
from dubclr.testing.titles import RealMedia, build_real_media

os.environ.setdefault("DUBCLR_NO_PROGRESS", "1")
REALMEDIA_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "realmedia"

# The tiny corpus: 3 titles of 3-4 shots (3-5 s each), four languages, 160x90 at 25 fps.
TINY_CORPUS_OPTIONS = dict(titles=3, seed=0, languages=("en", "es", "fr", "ja"), shots=(3, 4),
                           shot_seconds=(3.0, 5.0), title_seconds=14.0, size=(160, 90), fps=25,
                           sample_rate=48000, max_lines_per_shot=1)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """Folder of a tiny corpus: `labels.json`, `title_00N.mkv`, SRTs and stems (see contract)."""
    from dubclr.synth.corpus import build_corpus

    out = tmp_path_factory.mktemp("tiny_corpus")
    build_corpus(out, jobs=1, show_progress=False, **TINY_CORPUS_OPTIONS)
    return out


@pytest.fixture(scope="session")
def real_media() -> RealMedia:
    """Titles built from real recordings (``dubclr.testing.titles.TITLES`` says what each
    holds; ``.path(name)``, ``.spec(name)``, ``.copy_to(folder, *names)``,
    ``.dialogue(lang, seconds, rate)``). Built once, cached in .cache/realmedia. A missing
    source fails the test with the command that installs it: real media is not optional."""
    try:
        return build_real_media(os.environ.get("DUBCLR_REALMEDIA", REALMEDIA_CACHE))
    except MissingTestMedia as exc:
        missing = str(exc)
    pytest.fail(missing, pytrace=False)


@pytest.fixture(scope="session")
def tiny_catalog(tiny_corpus, tmp_path_factory) -> Path:
    """catalog.sqlite of the tiny corpus (read-only for tests: copy it to modify)."""
    out = tmp_path_factory.mktemp("tiny_catalog") / "catalog.sqlite"
    from dubclr.data.indexer import index_folder

    report = index_folder(tiny_corpus, out, jobs=1, show_progress=False)
    assert report.failed == 0, report.failures
    return out


@pytest.fixture(scope="session")
def ray_session():
    """One local 2-CPU Ray for the whole test session (its start-up costs seconds)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=100 * 1024 ** 2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_shards(tiny_catalog, ray_session, tmp_path_factory) -> Path:
    """The tiny corpus built into shards at short side 80 (the toy configs' training scale
    tops out there), for training with ``data.shards``. Read-only for tests."""
    from dubclr.shards.build import ShardOptions
    from dubclr.shards.pipeline import build_shards

    out = tmp_path_factory.mktemp("tiny_shards")
    report = build_shards(tiny_catalog, out, ShardOptions(short_side=80), show_progress=False)
    assert report.failed == [] and report.built == 3
    return out


REAL_INDEXED = ("short_audio_540p_25", "camera_480p_2997", "original_flag_360p_25")


@pytest.fixture(scope="session")
def real_catalog(real_media, tmp_path_factory):
    """Three real titles (``REAL_INDEXED``) indexed once: (catalog path, index report).
    Read-only for tests: copy the catalog (and its folder, ``Catalog.roots()``) to modify."""
    from dubclr.data.indexer import index_folder

    folder = real_media.copy_to(tmp_path_factory.mktemp("real_titles"), *REAL_INDEXED)
    catalog = tmp_path_factory.mktemp("real_catalog") / "catalog.sqlite"
    report = index_folder(folder, catalog, show_progress=False)
    assert (report.indexed, report.failed) == (3, 0), report.failures
    return catalog, report


# ---------------------------------------------------------------- small media with known content

BANDS = 10  # frame index is written as 10 black/white bands (bit 0 on the left)


def index_frame(index: int, width: int = 160, height: int = 48) -> np.ndarray:
    """An RGB frame whose vertical bands spell `index` in binary; survives H.264."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    band = width // BANDS
    for bit in range(BANDS):
        if index >> bit & 1:
            frame[:, bit * band:(bit + 1) * band] = 255
    return frame


def read_frame_index(frame: np.ndarray) -> int:
    """Inverse of `index_frame` on a decoded frame."""
    width = frame.shape[1]
    band = width // BANDS
    value = 0
    for bit in range(BANDS):
        centre = frame[:, bit * band + band // 4:(bit + 1) * band - band // 4]
        if centre.mean() > 128:
            value |= 1 << bit
    return value


def known_signal(num_samples: int, sample_rate: int, channels: int = 1) -> np.ndarray:
    """A signal whose value at any time is known: two incommensurate sines (channel c flipped)."""
    t = np.arange(num_samples) / sample_rate
    mono = 0.4 * np.sin(2 * np.pi * 441.3 * t) + 0.3 * np.sin(2 * np.pi * 97.1 * t + 0.5)
    if channels == 1:
        return mono.astype(np.float32)
    return np.stack([mono * (1 if c % 2 == 0 else -1) for c in range(channels)]).astype(np.float32)


def known_signal_at(times: np.ndarray) -> np.ndarray:
    return (0.4 * np.sin(2 * np.pi * 441.3 * times)
            + 0.3 * np.sin(2 * np.pi * 97.1 * times + 0.5)).astype(np.float32)


class MediaFactory:
    """Writes small media files into one folder."""

    read_frame_index = staticmethod(read_frame_index)
    known_signal = staticmethod(known_signal)
    known_signal_at = staticmethod(known_signal_at)

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def title(self, name: str = "movie.mkv", seconds: float = 2.0, fps: int = 25,
              tracks: tuple = (("eng", 48000, 1, "flac"),), default: int = 0,
              video: bool = True, gop: int | None = None) -> Path:
        """A title whose frame k shows k (`index_frame`) and whose tracks hold `known_signal`.

        `tracks`: (language tag or None, sample rate, channels, codec) per audio stream.
        """
        audio = [AudioTrack(known_signal(round(seconds * rate), rate, channels), rate,
                            language=language, codec=codec, default=i == default)
                 for i, (language, rate, channels, codec) in enumerate(tracks)]
        frames = (index_frame(k) for k in range(round(seconds * fps))) if video else iter(())
        return write_title(self.folder / name, frames, fps, audio, gop=gop)

    def audio(self, name: str, seconds: float = 2.0, sample_rate: int = 44100,
              channels: int = 1) -> Path:
        return write_audio(self.folder / name, known_signal(round(seconds * sample_rate),
                                                            sample_rate, channels), sample_rate)

    def truncated(self, source: Path, name: str, keep: float = 0.5) -> Path:
        """A copy of `source` cut after `keep` of its bytes."""
        data = source.read_bytes()
        target = self.folder / name
        target.write_bytes(data[: int(len(data) * keep)])
        return target

    def garbage(self, name: str = "garbage.mkv", size: int = 4096) -> Path:
        target = self.folder / name
        target.write_bytes(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())
        return target


@pytest.fixture
def media(tmp_path) -> MediaFactory:
    """Factory for small media files with known frames and samples, in a fresh folder."""
    return MediaFactory(tmp_path)
