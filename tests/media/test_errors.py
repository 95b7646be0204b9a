import av
import pytest

from dubclr.errors import DubclrError
from dubclr.media import (
    CorruptMediaError,
    MediaError,
    NoVideoStreamError,
    TrackNotFoundError,
    WindowError,
    probe,
    read_audio,
    read_video,
)


def all_readers(path):
    return [lambda: probe(path), lambda: read_video(path, 0.0, 0.5),
            lambda: read_audio(path, 0.0, 0.5)]


def test_errors_are_dubclr_errors():
    for cls in (CorruptMediaError, NoVideoStreamError, TrackNotFoundError, WindowError):
        assert issubclass(cls, MediaError) and issubclass(cls, DubclrError)


def test_missing_file(media):
    for read in all_readers(media.folder / "nope.mkv"):
        with pytest.raises(MediaError, match="no such file"):
            read()


@pytest.mark.parametrize("make", ["garbage", "empty", "header_only"])
def test_garbage_and_empty_files_are_corrupt_media(media, make):
    if make == "garbage":
        path = media.garbage("garbage.mkv")
    elif make == "empty":
        path = media.folder / "empty.mp4"
        path.write_bytes(b"")
    else:
        path = media.truncated(media.title("src.mkv", seconds=1.0), "header.mkv", keep=0.002)
    for read in all_readers(path):
        with pytest.raises(CorruptMediaError) as caught:
            read()
        assert str(path) in str(caught.value)
        assert not isinstance(caught.value, av.FFmpegError)


def test_truncated_file_is_reported_where_data_is_missing(media):
    source = media.title("full.mkv", seconds=4.0, gop=10,
                         tracks=(("eng", 48000, 1, "flac"), ("spa", 48000, 2, "aac")))
    path = media.truncated(source, "cut.mkv", keep=0.5)
    assert probe(path).duration == pytest.approx(4.0, abs=0.05)  # the header still says 4 s
    assert read_video(path, 0.0, 0.5).shape[0] == 16  # the intact part still reads
    with pytest.raises(CorruptMediaError, match="truncated"):
        read_video(path, 3.2, 0.5)
    for track in ("en", "es"):
        with pytest.raises(CorruptMediaError, match="truncated"):
            read_audio(path, 3.2, 0.5, track=track)


def test_audio_only_file_has_no_video(media):
    path = media.audio("song.flac", seconds=1.0)
    with pytest.raises(NoVideoStreamError, match="read_audio"):
        read_video(path, 0.0, 0.5)
    assert read_audio(path, 0.0, 0.5, sample_rate=44100).shape == (22050,)


def test_file_without_audio(media):
    path = media.title("silent.mkv", seconds=1.0, tracks=())
    with pytest.raises(TrackNotFoundError, match="no audio tracks"):
        read_audio(path, 0.0, 0.5)


@pytest.mark.parametrize("start, duration", [(5.0, 1.0), (2.0, 0.5), (-0.5, 1.0), (0.5, 0.0),
                                             (0.5, -1.0)])
def test_windows_outside_the_file(media, start, duration):
    path = media.title("two.mkv", seconds=2.0)
    with pytest.raises(WindowError):
        read_video(path, start, duration)
    with pytest.raises(WindowError):
        read_audio(path, start, duration)
