import pytest

from dubclr.counterfactual.segments import (
    Segment,
    SubtitleError,
    clip_to_duration,
    cue_lines,
    format_srt,
    parse_subtitles,
    require_sidecar,
)


def test_srt_round_trip():
    segs = [Segment(0.604, 1.939, "I lost my keys."), Segment(4.8, 6.25, "Yes, of course.")]
    assert parse_subtitles(format_srt(segs)) == segs


def test_vtt_with_markup_and_hours():
    text = "WEBVTT\n\nintro\n01:00:01.500 --> 01:00:02.000 align:start\n<i>Hola</i> amigo\n\n"
    assert parse_subtitles(text) == [Segment(3601.5, 3602.0, "Hola amigo")]


def test_bad_timing_names_the_file():
    with pytest.raises(SubtitleError, match="movie.srt"):
        parse_subtitles("1\n00:00:xx,000 --> 00:00:02,000\nhi\n", "movie.srt")


def test_translations_follow_overlap_not_count():
    source = [Segment(0.0, 2.0, "a"), Segment(5.0, 7.0, "b")]
    target = [Segment(0.1, 1.0, "uno"), Segment(1.0, 2.2, "dos"), Segment(5.2, 6.9, "tres")]
    assert [s.text for s in cue_lines(source, target)] == ["uno dos", "tres"]
    assert [(s.start, s.end) for s in cue_lines(source, target)] == [(0.0, 2.0), (5.0, 7.0)]


def test_a_cue_fills_every_speech_segment_under_it():
    """The issue's case: 4 cues over 14 detected speech segments. Each cue's line spans the
    segments under it, so no segment is left silent and no line is squeezed into one."""
    speech = [Segment(0.5 + 1.1 * i, 1.3 + 1.1 * i, "") for i in range(14)]  # 0.8 s each
    cues = [Segment(0.4 + 3.9 * k, 4.0 + 3.9 * k, f"línea {k}") for k in range(4)]
    lines = cue_lines(speech, cues)
    assert [s.text for s in lines] == [f"línea {k}" for k in range(4)]
    covered = sum(min(ln.end, s.end) - max(ln.start, s.start) for s in speech for ln in lines
                  if min(ln.end, s.end) > max(ln.start, s.start))
    assert covered == pytest.approx(sum(s.duration for s in speech))
    assert all(b.start >= a.end for a, b in zip(lines, lines[1:]))
    assert min(line.duration for line in lines) > 2.5  # a 3.6 s cue is not squeezed into 0.8 s


def test_a_cue_with_no_speech_near_keeps_its_timing():
    lines = cue_lines([Segment(0.0, 1.0, "")], [Segment(0.1, 0.9, "uno"), Segment(5.0, 6.0, "dos")])
    assert [(s.start, s.end, s.text) for s in lines] == [(0.0, 1.0, "uno"), (5.0, 6.0, "dos")]


def test_segments_are_clipped_to_the_audio():
    """faster-whisper timed speech up to 29.98 s on a 16.9 s title, some 'segments' 20 ms long."""
    found = [Segment(0.2, 3.0, " hi"), Segment(3.0, 3.02, "x"), Segment(15.0, 29.98, "late"),
             Segment(17.0, 18.0, "after"), Segment(4.0, 5.0, "  ")]
    assert clip_to_duration(found, 16.9) == [Segment(0.2, 3.0, "hi"), Segment(15.0, 16.9, "late")]


def test_missing_sidecar_says_where_to_put_it(tmp_path):
    with pytest.raises(SubtitleError, match=r"clip\.es\.srt"):
        require_sidecar(tmp_path / "clip.mkv", "es")


def test_container_codes_for_any_original_language():
    from dubclr.counterfactual.languages import check_languages, container_code
    from dubclr.errors import ConfigError

    assert [container_code(x) for x in ("es", "fr", "de", "zh", "sv")] == [
        "spa", "fre", "ger", "chi", "swe"]  # a Swedish original is copied with its tag
    with pytest.raises(ConfigError, match="target-language"):
        check_languages(["es", "sv"])  # but targets need translation-model codes
