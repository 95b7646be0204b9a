import numpy as np
import pytest

from dubclr.media import TrackNotFoundError, read_audio

INT16 = 1.0 / 32768


@pytest.fixture
def title(media):
    path = media.title("movie.mkv", seconds=3.0, tracks=(
        ("eng", 48000, 1, "flac"), ("spa", 44100, 2, "pcm_s16le"), ("jpn", 48000, 2, "aac")))
    media.audio("movie.de.wav", seconds=3.0, sample_rate=22050)
    return path


@pytest.mark.parametrize("start", [0.0, 0.0133, 0.5, 1.37, 2.2])
def test_lossless_track_in_matroska_is_sample_exact(media, title, start):
    got = read_audio(title, start, 0.5, track="en")
    first = round(start * 48000)
    expected = media.known_signal(first + 24000, 48000)[first:]
    assert got.shape == (24000,) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=INT16)


def test_sidecar_at_native_rate_is_sample_exact(media, title):
    got = read_audio(title, 1.0, 0.25, track="de", sample_rate=22050)
    expected = media.known_signal(22050 + 5513, 22050)[22050:]
    assert got.shape == (5512,) or got.shape == (5513,)
    np.testing.assert_allclose(got, expected[: len(got)], atol=INT16)


@pytest.mark.parametrize("track, native_rate", [("es", 44100), ("de", 22050)])
def test_resampled_to_48k_matches_the_signal(media, title, track, native_rate):
    got = read_audio(title, 1.0, 0.5, track=track, mono=False)
    times = 1.0 + np.arange(24000) / 48000
    assert got.shape[1] == 24000
    np.testing.assert_allclose(got[0], media.known_signal_at(times), atol=2e-3)


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
@pytest.mark.parametrize("duration", [0.3333, 1.0001, 0.02])
def test_sample_count_is_exact(title, rate, duration):
    assert read_audio(title, 0.7, duration, track="es", sample_rate=rate).shape == \
        (round(duration * rate),)


def test_zero_padded_past_the_end(media, title):
    got = read_audio(title, 2.5, 1.0, track="en")
    assert got.shape == (48000,)
    np.testing.assert_allclose(got[:24000], media.known_signal(144000, 48000)[120000:], atol=INT16)
    assert not got[24000:].any()


def test_channels_are_kept_or_averaged(title):
    stereo = read_audio(title, 0.5, 0.5, track="es", sample_rate=44100, mono=False)
    assert stereo.shape == (2, 22050)
    np.testing.assert_allclose(stereo[1], -stereo[0], atol=INT16)
    mono = read_audio(title, 0.5, 0.5, track="es", sample_rate=44100)
    np.testing.assert_allclose(mono, stereo.mean(axis=0), atol=1e-6)


def test_lossy_track_is_aligned(media, title):
    got = read_audio(title, 1.5, 0.5, track="ja", mono=False)[0]
    expected = media.known_signal(96000, 48000)[72000:]
    lags = range(-48, 49)
    errors = [np.mean((np.roll(got, lag) - expected)[60:-60] ** 2) for lag in lags]
    assert abs(list(lags)[int(np.argmin(errors))]) <= 24  # Matroska: 1 ms timestamps
    assert min(errors) < 1e-3


def test_tracks_by_language_code_index_or_default(title):
    default = read_audio(title, 0.1, 0.1)
    assert np.array_equal(default, read_audio(title, 0.1, 0.1, track="en"))
    assert np.array_equal(read_audio(title, 0.1, 0.1, track="spa"),
                          read_audio(title, 0.1, 0.1, track=1))
    assert np.array_equal(read_audio(title, 0.1, 0.1, track=3),
                          read_audio(title, 0.1, 0.1, track="de"))


def test_missing_language_lists_the_available_ones(title):
    with pytest.raises(TrackNotFoundError) as caught:
        read_audio(title, 0.0, 1.0, track="ko")
    message = str(caught.value)
    for listed in ("0:en", "1:es", "2:ja", "3:de (movie.de.wav)"):
        assert listed in message
    with pytest.raises(TrackNotFoundError, match="no audio track 7"):
        read_audio(title, 0.0, 1.0, track=7)


def _write_pcm(path, samples: np.ndarray, rate: int, codec: str, frame: int | None = None):
    """Integer PCM written with PyAV as given: ``samples`` int16/int32 ``(C, N)``, in
    packets of ``frame`` samples (all in one when None)."""
    from fractions import Fraction

    import av

    fmt = "s16" if samples.dtype == np.int16 else "s32"
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    frame = frame or samples.shape[1]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout, stream.format = layout, fmt
        for pos in range(0, samples.shape[1], frame):
            block = np.ascontiguousarray(samples[:, pos:pos + frame].T.reshape(1, -1))
            out = av.AudioFrame.from_ndarray(block, format=fmt, layout=layout)
            out.sample_rate, out.pts, out.time_base = rate, pos, Fraction(1, rate)
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.mark.parametrize("codec, bits", [("pcm_s24le", 24), ("pcm_s32le", 32)])
def test_24_and_32_bit_pcm_keep_their_scale(media, tmp_path, codec, bits):
    """Studio masters are often 24-bit: FFmpeg decodes them to 32-bit integers, which must
    come back in [-1, 1] at the level they were written."""
    signal = 1.4 * media.known_signal(48000, 48000, channels=2)  # peaks near full scale
    full = 2 ** (bits - 1)
    ints = np.round(np.clip(signal, -1, (full - 1) / full) * full).astype(np.int32)
    path = _write_pcm(tmp_path / f"master_{bits}.wav", ints << (32 - bits), 48000, codec)
    got = read_audio(path, 0.25, 0.5, mono=False)
    np.testing.assert_allclose(got, signal[:, 12000:36000], atol=1.0 / full)
    assert np.abs(got).max() > 0.9


def test_audio_after_a_seek_is_placed_by_every_timestamp(media, tmp_path):
    """Matroska stores 1 ms timestamps (48 samples at 48 kHz). With packets that do not
    start on whole milliseconds (1021 samples), one timestamp places audio only to within
    24 samples; read after a seek, the window must still be within 2 samples of the truth,
    which the timestamps of the following packets allow."""
    signal = media.known_signal(4 * 48000, 48000)
    ints = np.round(signal * 32768).astype(np.int16)[None]
    path = _write_pcm(tmp_path / "odd_packets.mka", ints, 48000, "pcm_s16le", frame=1021)
    lags = []
    for start in np.arange(0.55, 3.3, 0.137):
        got = read_audio(path, float(start), 0.5)
        first = round(start * 48000)
        expected = signal[first:first + 24000]
        errors = {lag: np.abs(np.roll(got, lag) - expected)[50:-50].max() for lag in range(-30, 31)}
        lags.append(min(errors, key=errors.get))
    assert max(abs(lag) for lag in lags) <= 2, lags
