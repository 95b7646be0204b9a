"""MOV and AVI titles, as the README promises next to MKV and MP4: tracks, languages (AVI
carries no language tags: sidecars give them), frame- and sample-exact windows, indexing."""

import numpy as np

from dubclr.media import probe, read_audio, read_video

INT16 = 1.0 / 32768


def _frames(media, path, start, count):
    return [media.read_frame_index(f) for f in read_video(path, start, count / 25, num_frames=count)]


def _exact_audio(media, path, track):
    got = read_audio(path, 0.5, 0.5, track=track)
    np.testing.assert_allclose(got, media.known_signal(48000, 48000)[24000:], atol=INT16)


def test_mov_title_with_two_language_tracks(media):
    path = media.title("movie.mov", seconds=2.0, tracks=(("eng", 48000, 1, "pcm_s16le"),
                                                         ("spa", 48000, 2, "aac")))
    info = probe(path)
    assert [(t.language, t.default) for t in info.audio] == [("en", True), ("es", False)]
    assert info.video.num_frames == 50 and info.video.fps == 25
    assert _frames(media, path, 0.48, 10) == list(range(12, 22))
    _exact_audio(media, path, "en")


def test_mov_keeps_language_tags_in_their_older_forms(media):
    """MOV stores QuickTime's language codes only (French is `fra` there, Swedish `sve`):
    the writer translates, the reader understands QuickTime's spellings."""
    path = media.title("movie.mov", seconds=1.0, tracks=(
        ("fre", 48000, 1, "pcm_s16le"), ("ger", 48000, 1, "pcm_s16le"),
        ("swe", 48000, 1, "pcm_s16le"), ("cze", 48000, 1, "pcm_s16le")))
    assert [t.language for t in probe(path).audio] == ["fr", "de", "sv", "cs"]


def test_avi_title_takes_its_languages_from_sidecars(media):
    path = media.title("movie.avi", seconds=2.0, tracks=(("eng", 48000, 1, "pcm_s16le"),))
    media.audio("movie.es.wav", seconds=2.0, sample_rate=48000)
    info = probe(path)
    assert info.video.num_frames == 50
    assert [t.language for t in info.audio] == ["und", "es"]  # AVI streams have no language tag
    _exact_audio(media, path, 0)
    _exact_audio(media, path, "es")


def test_avi_window_is_frame_exact(media):
    """AVI stores decode-order timestamps; with B-frames (libx264's default) a frame's pts
    belongs to another frame, so frames are timed by their count from the keyframe."""
    path = media.title("movie.avi", seconds=4.0, tracks=(("eng", 48000, 1, "pcm_s16le"),),
                       gop=25)
    assert _frames(media, path, 0.48, 10) == list(range(12, 22))
    assert _frames(media, path, 2.52, 10) == list(range(63, 73))  # after a seek


def test_mov_and_avi_titles_are_indexed(media, tmp_path):
    from dubclr.data.catalog import Catalog
    from dubclr.data.indexer import index_folder

    media.title("a.mov", seconds=4.0, tracks=(("eng", 48000, 1, "pcm_s16le"),
                                              ("fra", 48000, 1, "pcm_s16le")))  # MOV keeps 639-2/T codes
    media.title("b.avi", seconds=4.0, tracks=(("eng", 48000, 1, "pcm_s16le"),))
    media.audio("b.ja.wav", seconds=4.0, sample_rate=48000)
    shots = tmp_path / "shots.csv"
    shots.write_text("file,start,end\na.mov,0,4\nb.avi,0,4\n")
    report = index_folder(media.folder, tmp_path / "catalog.sqlite", shots_csv=shots,
                          show_progress=False)
    assert (report.indexed, report.failed) == (2, 0), report.failures
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        langs = {s.title: s.languages for s in catalog.shot_records()}
    assert {k: sorted(v) for k, v in langs.items()} == {"a": ["en", "fr"], "b": ["ja", "und"]}
