import av
import pytest

from dubclr.media import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS, probe


def test_probe_reports_video_and_every_tagged_track(media):
    path = media.title("movie.mkv", seconds=2.0, tracks=(
        ("eng", 48000, 1, "flac"), ("spa", 48000, 2, "aac"), ("fre", 44100, 1, "pcm_s16le"),
        (None, 16000, 1, "flac")))
    info = probe(path)
    assert info.video is not None
    assert (info.video.fps, info.video.width, info.video.height) == (25.0, 160, 48)
    assert info.video.codec == "h264" and info.video.num_frames == 50
    assert info.video.duration == pytest.approx(2.0, abs=1e-3)
    assert info.languages == ["en", "es", "fr", "und"]
    assert [t.sample_rate for t in info.audio] == [48000, 48000, 44100, 16000]
    assert [t.channels for t in info.audio] == [1, 2, 1, 1]
    assert [t.codec for t in info.audio] == ["flac", "aac", "pcm_s16le", "flac"]
    assert [t.default for t in info.audio] == [True, False, False, False]
    assert [t.index for t in info.audio] == [0, 1, 2, 3]
    assert [t.stream_index for t in info.audio] == [1, 2, 3, 4]
    assert all(t.path == info.path for t in info.audio)
    assert info.duration == pytest.approx(2.0, abs=0.05)


def test_matroska_stream_durations_come_from_stream_tags(media):
    # the audio is half as long as the video; stream.duration would report the container's
    path = media.title("short_audio.mkv", seconds=2.0)
    half = media.folder / "half.mkv"
    with av.open(str(path)) as src, av.open(str(half), "w") as dst:
        v_in, a_in = src.streams.video[0], src.streams.audio[0]
        v_out = dst.add_stream_from_template(v_in)
        a_out = dst.add_stream_from_template(a_in)
        for packet in src.demux(v_in, a_in):
            if packet.dts is None:
                continue
            if packet.stream is a_in and float(packet.pts * a_in.time_base) >= 1.0:
                continue
            packet.stream = v_out if packet.stream is v_in else a_out
            dst.mux(packet)
    info = probe(half)
    assert info.video.duration == pytest.approx(2.0, abs=1e-3)
    assert info.audio[0].duration == pytest.approx(1.0, abs=0.05)


def test_sidecars_join_the_title_with_language_from_their_name(media):
    path = media.title("Movie.mkv", seconds=1.0)
    media.audio("Movie.es.flac", seconds=1.0, sample_rate=44100)
    media.audio("Movie.fre.wav", seconds=1.0, sample_rate=22050, channels=2)
    media.audio("Movie.commentary.flac", seconds=1.0)  # not a language: ignored
    media.audio("Other.de.flac", seconds=1.0)  # another title's sidecar
    (media.folder / "Movie.de.txt").write_text("not audio")
    info = probe(path)
    assert info.languages == ["en", "es", "fr"]
    sidecars = info.audio[1:]
    assert [t.path.name for t in sidecars] == ["Movie.es.flac", "Movie.fre.wav"]
    assert [t.index for t in sidecars] == [1, 2]
    assert [t.stream_index for t in sidecars] == [0, 0]
    assert [(t.sample_rate, t.channels) for t in sidecars] == [(44100, 1), (22050, 2)]
    assert not any(t.default for t in sidecars)
    assert all(t.duration == pytest.approx(1.0, abs=1e-3) for t in sidecars)


def test_probe_sees_a_sidecar_added_later(media):
    path = media.title("Film.mkv", seconds=1.0)
    assert probe(path).languages == ["en"]
    media.audio("Film.ja.wav", seconds=1.0)
    assert probe(path).languages == ["en", "ja"]


def test_first_track_is_default_when_none_is_flagged(media):
    path = media.title("nodefault.mkv", seconds=1.0, default=-1,
                       tracks=(("ita", 48000, 1, "flac"), ("kor", 48000, 1, "flac")))
    info = probe(path)
    assert [t.default for t in info.audio] == [True, False]
    assert info.languages == ["it", "ko"]


def test_mp4_frame_count_and_audio_only_files(media):
    info = probe(media.title("clip.mp4", seconds=1.2, tracks=(("jpn", 48000, 2, "aac"),)))
    assert info.video.num_frames == 30 and info.languages == ["ja"]
    audio_only = probe(media.audio("speech.flac", seconds=1.5, sample_rate=16000))
    assert audio_only.video is None
    assert audio_only.audio[0].duration == pytest.approx(1.5, abs=1e-3)
    assert audio_only.duration == pytest.approx(1.5, abs=1e-3)


def test_extension_sets():
    assert ".mkv" in VIDEO_EXTENSIONS and ".mp4" in VIDEO_EXTENSIONS
    assert ".flac" in AUDIO_EXTENSIONS and ".wav" in AUDIO_EXTENSIONS
    assert not VIDEO_EXTENSIONS & AUDIO_EXTENSIONS
