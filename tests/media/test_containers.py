"""MOV and AVI titles, as the README promises next to MKV and MP4: tracks, languages (AVI
carries no language tags: sidecars give them), frame- and sample-exact windows, indexing."""

import numpy as np
import pytest

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


def test_avi_title_takes_its_languages_from_sidecars(media):
    path = media.title("movie.avi", seconds=2.0, tracks=(("eng", 48000, 1, "pcm_s16le"),))
    media.audio("movie.es.wav", seconds=2.0, sample_rate=48000)
    info = probe(path)
    assert info.video.num_frames == 50
    assert [t.language for t in info.audio] == ["und", "es"]  # AVI streams have no language tag
    _exact_audio(media, path, 0)
    _exact_audio(media, path, "es")


@pytest.mark.xfail(strict=True, reason="AVI stores decode-order timestamps; with B-frames "
                   "(libx264's default) the frames' times are wrong, so windows repeat and skip "
                   "frames (media/video.py uses frame.pts): reported for the media area")
def test_avi_window_is_frame_exact(media):
    path = media.title("movie.avi", seconds=2.0, tracks=(("eng", 48000, 1, "pcm_s16le"),))
    assert _frames(media, path, 0.48, 10) == list(range(12, 22))


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
