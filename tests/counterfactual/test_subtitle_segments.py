import pytest

from dubclr.counterfactual.segments import (
    Segment,
    SubtitleError,
    format_srt,
    match_translations,
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
    assert [s.text for s in match_translations(source, target)] == ["uno dos", "tres"]
    assert [(s.start, s.end) for s in match_translations(source, target)] == [(0.0, 2.0), (5.0, 7.0)]


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
