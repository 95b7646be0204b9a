import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dubclr.evaluate.windows import audio_windows, video_windows

FIXTURE = Path(__file__).parents[1] / "fixtures" / "mvit_parity" / "clip_windows.json"
CASES = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("case", CASES["audio"], ids=lambda c: f"{c['sample_rate']}-{c['num_frames']}")
def test_audio_windows_match_reference(case):
    got = audio_windows(case["num_frames"], case["sample_rate"], CASES["clip_seconds"])
    expected = case["windows"] or []
    assert [list(w) for w in got] == expected


@pytest.mark.parametrize("case", CASES["video"], ids=lambda c: str(c["last_frame_pts_sec"]))
def test_video_windows_match_reference(case):
    got = video_windows(case["last_frame_pts_sec"], CASES["clip_seconds"])
    assert len(got) == len(case["windows"])
    for (s, e), (rs, re_) in zip(got, case["windows"]):
        assert s == pytest.approx(rs, abs=1e-12) and e == pytest.approx(re_, abs=1e-12)


@given(n=st.integers(2, 5_000_000), sr=st.sampled_from([8000, 16000, 22050, 44100, 48000]))
def test_audio_windows_properties(n, sr):
    clip = int(3.0 * sr)
    wins = audio_windows(n, sr)
    assert wins, "every file of 2+ samples gets at least one window"
    for s, e in wins:
        assert 0 <= s < e <= n
        assert e - s == min(clip, n)
    # full clips tile from zero without gaps
    for (_, e0), (s1, _) in zip(wins[:-2], wins[1:-1]):
        assert e0 == s1
    # uncovered tail is at most half a clip
    assert n - wins[-1][1] <= clip // 2 or wins[-1][1] == n
    covered = max(e for _, e in wins)
    assert n - covered <= clip // 2


@given(last=st.floats(0.0, 600.0, allow_nan=False))
def test_video_windows_properties(last):
    wins = video_windows(last)
    assert wins
    for s, e in wins:
        assert -1e-9 <= s <= e <= last + 1e-9
        assert e - s == pytest.approx(min(3.0, last))
    assert last - wins[-1][1] <= 1.5 + 1e-9
    starts = [s for s, _ in wins]
    assert starts == sorted(starts)
