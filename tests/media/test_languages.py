import pytest

from dubclr.media import normalize_language
from dubclr.media.languages import is_language_tag, to_iso639_2


@pytest.mark.parametrize("tag, expected", [
    ("eng", "en"), ("en", "en"), ("EN", "en"), ("en-US", "en"), ("en_GB", "en"), ("English", "en"),
    ("spa", "es"), ("es-419", "es"), ("fre", "fr"), ("fra", "fr"), ("jpn", "ja"), ("ger", "de"),
    ("deu", "de"), ("ita", "it"), ("kor", "ko"), ("chi", "zh"), ("zho", "zh"), ("por", "pt"),
    ("", "und"), (None, "und"), ("und", "und"), ("mul", "und"), ("zxx", "und"), ("  ", "und"),
    ("yue", "yue"), ("12", "und"), ("sve", "sv"), ("hr ", "hr"),  # QuickTime's spellings
])
def test_normalize_language(tag, expected):
    assert normalize_language(tag) == expected


def test_language_tags_round_trip_through_matroska_codes():
    for code in ("en", "es", "fr", "ja", "de", "it", "ko"):
        assert normalize_language(to_iso639_2(code)) == code
    assert to_iso639_2("fr") == "fre" and to_iso639_2("de") == "ger"


def test_sidecar_tags_are_recognised_only_for_languages():
    assert is_language_tag("es") and is_language_tag("spa") and is_language_tag("pt-BR")
    assert not is_language_tag("commentary") and not is_language_tag("2020")


def test_srt_timestamps_and_blocks():
    from dubclr.media.subtitles import format_srt, srt_timestamp

    assert srt_timestamp(3723.5) == "01:02:03,500"
    assert srt_timestamp(0.0004) == "00:00:00,000" and srt_timestamp(59.9996) == "00:01:00,000"
    assert format_srt([(1.0, 2.25, "Hola."), (3.0, 4.0, "¿Qué?")]) == (
        "1\n00:00:01,000 --> 00:00:02,250\nHola.\n\n2\n00:00:03,000 --> 00:00:04,000\n¿Qué?\n\n")
