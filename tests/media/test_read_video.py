import math

import numpy as np
import pytest
from safetensors.numpy import load_file

from dubclr.media import read_video, resample_indices, uniform_subsample_indices

FIXTURES = __import__("pathlib").Path(__file__).parents[1] / "fixtures" / "mvit_parity"


def indices(media, frames):
    return [media.read_frame_index(frame) for frame in frames]


@pytest.fixture
def long_title(media):
    # 6 s at 25 fps, a keyframe every 10 frames so seeks land on many different keyframes
    return media.title("long.mkv", seconds=6.0, gop=10)


@pytest.mark.parametrize("start", [0.0, 0.04, 0.5, 0.52, 1.01, 2.39, 3.0, 4.77])
def test_window_holds_exactly_the_frames_whose_time_is_inside(media, long_title, start):
    frames = read_video(long_title, start, 1.0, num_frames=None)
    first = math.ceil(start * 25 - 1e-6)
    last = math.ceil((start + 1.0) * 25 - 1e-6) - 1
    assert indices(media, frames) == list(range(first, last + 1))


def test_uniform_subsample_of_a_3s_window(media, long_title):
    frames = read_video(long_title, 1.2, 3.0, num_frames=16)
    assert frames.shape == (16, 48, 160, 3) and frames.dtype == np.uint8
    expected = 30 + np.linspace(0, 74, 16, dtype=np.float32).astype(int)
    assert indices(media, frames) == expected.tolist()


def test_window_past_the_end_repeats_the_last_frames(media, long_title):
    frames = read_video(long_title, 5.5, 3.0, num_frames=16)
    got = indices(media, frames)
    assert len(got) == 16 and got[0] == 138 and got[-1] == 149
    assert got == sorted(got)


def test_30fps_source_is_resampled_to_25fps_by_index(media):
    path = media.title("thirty.mp4", seconds=2.0, fps=30)
    frames = read_video(path, 0.0, 0.4, num_frames=None)  # 12 native frames -> 10
    assert indices(media, frames) == [0, 1, 2, 3, 4, 6, 7, 8, 9, 11]
    native = read_video(path, 0.5, 0.5, fps=None, num_frames=None)
    assert indices(media, native) == list(range(15, 30))


def test_index_rules_match_the_authors_pipeline():
    reference = load_file(str(FIXTURES / "frontend_video_small.safetensors"))
    resampled = resample_indices(12, 30.0, 25.0)
    assert resampled.tolist() == reference["resample_idx"].tolist()
    assert uniform_subsample_indices(len(resampled), 4).tolist() == \
        reference["subsample_idx"].tolist()
    assert resample_indices(75, 25.0, 25.0).tolist() == list(range(75))
    assert uniform_subsample_indices(5, 8).tolist() == [0, 0, 1, 1, 2, 2, 3, 4]
