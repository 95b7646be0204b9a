"""The shard path against the originals path (media.read_video / read_audio), window by window.

Video: the shard frame of each of the 16 sampled positions shows the same title frame as the
originals path, or one up to 2 frames earlier or 1 later (the shard applies the 25 fps rule
once, by time: grid frame j shows the frame on screen at j / 25; the originals path applies it
per window, and its ceil-rounded frame count squeezes the window's frames, most near its end).
At 25 fps the two are the same frames. Each shard frame is within codec error of the title frame
it shows: PSNR >= 30 dB (after the originals are scaled to the shard size with an antialiased
bilinear filter where the shard is smaller).

Audio: at a 48 kHz source, equal up to the 16-bit storage step (scale x 2**-16, scale = 2.41 for
a folded 5.1 track). At 44.1 kHz, read_audio aligns its output to the source's sample grid, which
differs between a window and its shot by up to half a source sample (11 us): the two paths then
differ by at most |slope| x 1 source sample; for the test signal (sines of 441.3 and 97.1 Hz,
amplitudes 0.4 and 0.3) that is 0.03.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from titles import strip_index

from dubclr.media import probe, read_audio, read_video, resample_indices
from dubclr.media.video import uniform_subsample_indices
from dubclr.shards.audio import fold_channels, track_layout
from dubclr.shards.reader import ShardReader, window_frames
from dubclr.shards.record import ShotHeader
from dubclr.shards.scan import grid_step

PSNR_BOUND = 30.0
SLOPE_BOUND = 2 * math.pi * (0.4 * 441.3 + 0.3 * 97.1) / 44100  # per source sample


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def windows_of(reader: ShardReader, title: str, shot: int, count: int = 4) -> list[float]:
    row = reader.record(title, shot)[1]
    return [round(float(t), 4) for t in np.linspace(row.start, row.end - 3.0, count)]


@pytest.fixture(scope="module")
def reader(built_shards) -> ShardReader:
    return ShardReader(built_shards[0])


@pytest.mark.parametrize("title, shot, max_offset", [
    ("a_bikes", 1, 2), ("a_bikes", 2, 2),  # 23.976 fps
    ("c_carphone", 0, 2),  # 29.97 fps
])
def test_video_shows_the_same_frames_up_to_the_25fps_conversion(reader, title, shot, max_offset):
    offsets = []
    for t in windows_of(reader, title, shot):
        sample = reader.read(title, shot, [t], [None])
        shard = sample.video[0]
        source = read_video(sample.header.title_path, t, 3.0, fps=25, num_frames=16)
        assert shard.shape == source.shape  # these titles are below 320 px: never scaled
        every = read_video(sample.header.title_path, 0.0, 20.0, fps=None, num_frames=None)
        for position in range(16):
            shown = strip_index(shard[position])
            offsets.append(shown - strip_index(source[position]))
            assert psnr(shard[position], every[shown]) >= PSNR_BOUND
    offsets = np.array(offsets)
    assert np.abs(offsets).max() <= max_offset
    assert (offsets <= 0).mean() > 0.9  # when they differ, the shard frame is the earlier one
    assert (offsets == 0).mean() > 0.3


def test_video_at_25fps_is_the_same_frames_scaled(reader):
    for t in windows_of(reader, "b_bbb", 0):
        sample = reader.read("b_bbb", 0, [t], [None])
        shard = sample.video[0]
        assert shard.shape == (16, 320, 568, 3)
        source = read_video(sample.header.title_path, t, 3.0, fps=25, num_frames=16)
        scaled = F.interpolate(torch.from_numpy(source).permute(0, 3, 1, 2).float(),
                               size=(320, 568), mode="bilinear", antialias=True,
                               align_corners=False).round().clamp(0, 255)
        scaled = scaled.permute(0, 2, 3, 1).numpy()
        for position in range(16):
            here = psnr(shard[position], scaled[position])
            assert here >= PSNR_BOUND
            for neighbour in (position - 1, position + 1):  # and it is not a neighbour frame
                if 0 <= neighbour < 16 and not np.array_equal(source[neighbour], source[position]):
                    assert psnr(shard[position], scaled[neighbour]) < here


@pytest.mark.parametrize("title, shot, languages", [
    ("a_bikes", 2, ["en", "es"]),  # 5.1 FLAC at 48 kHz (unnamed layout), stereo at 44.1 kHz
    ("b_bbb", 0, ["und", "es"]),  # the real AAC 5.1 track, a stereo sidecar
    ("c_carphone", 0, ["fr", "separated"]),  # mono, and the separated track
])
def test_audio_equals_the_originals_up_to_storage_and_resampling(reader, title, shot, languages):
    for t in windows_of(reader, title, shot):
        sample = reader.read(title, shot, [t, t], languages, channels=None, video=False)
        for language, shard in zip(languages, sample.audio):
            original = _originals_audio(sample.header, language, t)
            track = sample.header.tracks[language]
            assert shard.shape == original.shape == (track.channels, 144000)
            bound = track.scale * 2 ** -16 + 1e-6  # + float32 rounding
            if track.source_rate != 48000:
                bound += SLOPE_BOUND
            assert np.abs(shard - original).max() <= bound, (title, t, language)


def _originals_audio(header: ShotHeader, language: str, t: float) -> np.ndarray:
    if language == "separated":
        path = header.title_path.rsplit(".", 1)[0] + ".separated.flac"
        return read_audio(path, t, 3.0, mono=False)
    info = probe(header.title_path)
    track = next(a for a in info.audio if a.language == language)
    wave = read_audio(header.title_path, t, 3.0, track=track, mono=False)
    names, _ = track_layout(track.path, track.stream_index)
    return fold_channels(wave, names)[0]


def test_both_windows_come_from_one_decode_and_fold_to_what_the_model_takes(reader):
    t_p, t_s = windows_of(reader, "b_bbb", 0, 2)
    sample = reader.read("b_bbb", 0, [t_p, t_s], ["und", "es"], channels=1, short_side=256)
    assert [v.shape for v in sample.video] == [(16, 256, 455, 3)] * 2  # as read_video scales
    assert [a.shape for a in sample.audio] == [(1, 144000)] * 2
    alone = reader.read("b_bbb", 0, [t_s], ["es"], channels=1, short_side=256)
    np.testing.assert_array_equal(alone.video[0], sample.video[1])
    np.testing.assert_array_equal(alone.audio[0], sample.audio[1])


# ---------------------------------------------------------------- the index rule, exhaustively

def _originals_indices(t: float, fps: float) -> np.ndarray:
    """Title frames read_video samples for [t, t + 3) of a constant-rate title (its rule)."""
    first = math.ceil((t - 1e-6) * fps)
    count = math.ceil((t + 3.0 - 1e-6) * fps) - first
    chosen = resample_indices(count, fps, 25)
    return first + chosen[uniform_subsample_indices(len(chosen), 16)]


def _shard_indices(t: float, fps: float) -> np.ndarray:
    header = ShotHeader(title="x", title_path="x", shot=0, start=0.0, end=1e6, fps=25,
                        video_start=0.0, num_frames=10 ** 8, width=2, height=2, source_fps=fps,
                        source_width=2, source_height=2, video_codec="", sample_rate=48000,
                        audio_start=0, num_samples=0, languages=[], original_language="en",
                        separated=False)
    step = grid_step(fps)
    return np.array([int(j * step) for j in window_frames(header, t, 3.0, 16)])


@settings(max_examples=300, deadline=None)
@given(t=st.floats(0.0, 7200.0), fps=st.sampled_from([24000 / 1001, 24.0, 30000 / 1001, 25.0]))
def test_frame_offsets_of_the_one_time_conversion_are_bounded(t, fps):
    offsets = _shard_indices(t, fps) - _originals_indices(t, fps)
    if fps == 25.0:
        assert not offsets.any()
    else:
        assert offsets.min() >= -2 and offsets.max() <= 1
