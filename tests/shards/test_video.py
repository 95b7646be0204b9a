"""Shot pictures: sizes, and the one-pass decoder that skips what the sampled frames don't need."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from titles import clip_frames

from dubclr.media.errors import CorruptMediaError
from dubclr.shards.video import VideoCodec, decode_windows, encode_clip, shard_size


@pytest.mark.parametrize("size, expected", [
    ((1920, 1080), (568, 320)), ((1280, 720), (568, 320)), ((1920, 800), (768, 320)),
    ((1080, 1920), (320, 568)), ((640, 272), (640, 272)), ((175, 143), (174, 142)),
])
def test_short_side_is_scaled_down_never_up_and_even(size, expected):
    assert shard_size(*size, 320) == expected


@pytest.fixture(scope="module")
def bunny() -> list[av.VideoFrame]:
    """100 frames of Big Buck Bunny at the shard size."""
    return [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(
        width=568, height=320, format="yuv420p") for f in clip_frames("bigbuckbunny.mp4")[:100]]


def sequential(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24", interpolation="BILINEAR")
                for f in container.decode(video=0)]


@pytest.mark.parametrize("codec", [VideoCodec(), VideoCodec(gop=16, bframes=0),
                                   VideoCodec(gop=1), VideoCodec(codec="mjpeg", gop=1)],
                         ids=lambda c: c.describe())
def test_skipping_decoder_gives_the_frames_of_a_full_decode(bunny, codec):
    data = encode_clip(bunny, 568, 320, codec)
    everything = sequential(data)
    assert len(everything) == len(bunny)
    rng = np.random.default_rng(0)
    for _ in range(6):
        windows = [rng.integers(0, 100, size=int(rng.integers(1, 17))) for _ in range(2)]
        got = decode_windows(data, windows)
        for window, frames in zip(windows, got):
            assert frames.shape == (len(window), 320, 568, 3)
            for index, frame in zip(window, frames):
                np.testing.assert_array_equal(frame, everything[index])


def test_b_frames_are_skipped_not_decoded(bunny):
    """With the default pattern a 16-frame window needs fewer packets than it spans."""
    from dubclr.shards.video import _packets_needed, _reference_flags

    data = encode_clip(bunny, 568, 320, VideoCodec())
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        references = _reference_flags(packets, stream.codec_context)
        indices = [round(float(p.pts * stream.time_base) * 25) for p in packets]
        keyframes = [p.is_keyframe for p in packets]
    assert sum(references) < len(packets) / 4  # one anchor in 8 frames, plus keyframes
    window = set(range(20, 95, 5))
    needed = _packets_needed(indices, keyframes, references, window)
    assert window <= {indices[p] for p in needed} and len(needed) < 75


def test_past_the_end_repeats_the_last_frame_and_scaling(bunny):
    data = encode_clip(bunny[:10], 568, 320, VideoCodec())
    (got,) = decode_windows(data, [[9, 12]], size=(284, 160))
    assert got.shape == (2, 160, 284, 3)
    np.testing.assert_array_equal(got[0], got[1])


def test_damaged_video_is_a_clear_error(bunny):
    data = encode_clip(bunny[:10], 568, 320, VideoCodec())
    with pytest.raises(CorruptMediaError, match="rebuild"):
        decode_windows(data[: len(data) // 5], [[0, 5, 9]], name="t shot 0")
