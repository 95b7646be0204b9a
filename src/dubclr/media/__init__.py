"""Media I/O on PyAV: probe titles (with sidecar tracks), read frame- and sample-exact windows."""

from dubclr.media.audio import read_audio, resample, select_track
from dubclr.media.errors import (
    CorruptMediaError,
    MediaError,
    NoVideoStreamError,
    TrackNotFoundError,
    WindowError,
)
from dubclr.media.languages import normalize_language
from dubclr.media.probe import (
    AUDIO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    AudioTrackInfo,
    TitleInfo,
    VideoStreamInfo,
    find_titles,
    probe,
    sidecar_paths,
)
from dubclr.media.video import read_video, resample_indices, uniform_subsample_indices

__all__ = [
    "AUDIO_EXTENSIONS", "VIDEO_EXTENSIONS", "AudioTrackInfo", "CorruptMediaError", "MediaError",
    "NoVideoStreamError", "TitleInfo", "TrackNotFoundError", "VideoStreamInfo", "WindowError",
    "find_titles", "normalize_language", "probe", "read_audio", "read_video", "resample", "resample_indices",
    "select_track", "sidecar_paths", "uniform_subsample_indices",
]
