"""Probe and decode titles built from real recordings: frame rates, layouts, flags, tags,
the centre-channel dialogue of a 5.1 mix, and clips scaled inside the decoder."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dubclr.media import probe, read_audio, read_video
from dubclr.media.video import short_side_size


def test_probe_reads_rates_sizes_tags_layouts_and_flags(real_media):
    film = probe(real_media.path("film_1080p_23976"))
    assert (film.video.width, film.video.height) == (1920, 1080)
    assert film.video.fps == pytest.approx(24000 / 1001, abs=1e-3)
    assert [t.language for t in film.audio] == ["en", "es", "fr", "it"]
    spanish = film.audio[1]
    assert spanish.codec == "ac3" and spanish.channels == 6 and "FC" in spanish.layout
    assert film.audio[3].sample_rate == 44100

    camera = probe(real_media.path("camera_480p_2997"))
    assert camera.video.fps == pytest.approx(30000 / 1001, abs=1e-3)
    # en-US, ES, fr-CA, zxx as written; a music-and-effects track has no language
    assert [t.language for t in camera.audio] == ["en", "es", "fr", "und"]
    assert camera.audio[1].duration == pytest.approx(4.0, abs=0.05)

    portrait = probe(real_media.path("portrait_540x960_2997"))
    assert portrait.video.height > portrait.video.width

    flagged = probe(real_media.path("original_flag_360p_25"))
    assert [(t.language, t.default, t.original) for t in flagged.audio] == [
        ("en", True, False), ("it", False, True), ("fr", False, False)]


def _best_correlation(x: np.ndarray, y: np.ndarray, max_lag: int = 2048) -> float:
    """Highest Pearson correlation of x and y over small lags (codec priming delays)."""
    n = min(len(x), len(y)) - 2 * max_lag
    best = -1.0
    for lag in range(-max_lag, max_lag + 1, 16):
        a = x[max_lag:max_lag + n]
        b = y[max_lag + lag:max_lag + lag + n]
        best = max(best, float(np.corrcoef(a, b)[0, 1]))
    return best


def test_centre_dialogue_of_a_real_51_track_survives_mono_and_stereo(real_media):
    """A film's dialogue is on the centre channel: the fold keeps it (the first two
    channels, front left and right, do not)."""
    path, seconds = real_media.path("film_1080p_23976"), 5.0
    centre = real_media.dialogue("es", seconds + 1.0, 48000)[:round(seconds * 48000)]
    mono = read_audio(path, 0.0, seconds, track="es", channels=1)
    stereo = read_audio(path, 0.0, seconds, track="es", channels=2)
    assert mono.shape == (1, round(seconds * 48000)) and stereo.shape == (2, mono.shape[1])
    assert _best_correlation(mono[0], centre) > 0.9
    for channel in stereo:
        assert _best_correlation(channel, centre) > 0.9
    front = read_audio(path, 0.0, seconds, track="es", mono=False)[:2]  # the old `wave[:2]`
    assert max(_best_correlation(c, centre) for c in front) < 0.5
    # mono= stays an alias: 1-D mono fold
    np.testing.assert_allclose(read_audio(path, 0.0, seconds, track="es"), mono[0], atol=1e-6)


def test_mono_track_is_duplicated_for_two_channels(real_media):
    path = real_media.path("film_1080p_23976")
    stereo = read_audio(path, 1.0, 1.0, track="it", channels=2)  # FLAC mono at 44.1 kHz
    np.testing.assert_array_equal(stereo[0], stereo[1])
    with pytest.raises(ValueError, match="contradicts"):
        read_audio(path, 1.0, 1.0, track="it", channels=2, mono=True)


def _ideal(clip: np.ndarray, width: int, height: int) -> np.ndarray:
    x = torch.from_numpy(clip).permute(0, 3, 1, 2).double()
    y = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True)
    return y.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("name, bound, expected", [
    ("film_1080p_23976", 320, (320, 568)),  # (H, W)
    ("portrait_540x960_2997", 320, (568, 320)),
    ("original_flag_360p_25", 480, (360, 640)),  # already smaller: kept
])
def test_clips_are_scaled_in_the_decoder_by_their_own_short_side(real_media, name, bound,
                                                                 expected):
    path = real_media.path(name)
    small = read_video(path, 1.0, 3.0, short_side=bound)
    assert small.shape == (16, *expected, 3) and small.dtype == np.uint8
    assert min(small.shape[1:3]) <= bound
    full = read_video(path, 1.0, 3.0)
    height, width = full.shape[1:3]
    assert abs(width / height - expected[1] / expected[0]) < 0.01  # aspect kept
    if (height, width) == expected:
        np.testing.assert_array_equal(small, full)
        return
    # the same frames, resized well (an ideal antialiased resize within 35 dB PSNR)
    reference = _ideal(full, expected[1], expected[0])
    mse = np.mean((small.astype(np.float64) - reference) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 35


def test_short_side_size_keeps_aspect_and_squares_pixels():
    assert short_side_size(1920, 1080, 256) == (455, 256)
    assert short_side_size(1080, 1920, 256) == (256, 455)
    assert short_side_size(400, 300, 320) == (400, 300)
    # DVD NTSC 16:9: 720x480 with 32:27 pixels is 853x480 on screen
    assert short_side_size(720, 480, 320, sar=32 / 27) == (568, 320)
    assert short_side_size(720, 480, 1000, sar=32 / 27) == (853, 480)


def test_media_probe_shows_the_original_flag_and_surround_layout(real_media, capsys):
    from dubclr.cli import main

    assert main(["media", "probe", str(real_media.path("original_flag_360p_25"))]) == 0
    assert "it   flac 48000 Hz 2 ch, 8.000 s (stream 2)  original" in capsys.readouterr().out
    assert main(["media", "probe", str(real_media.path("film_1080p_23976"))]) == 0
    assert "es   ac3 48000 Hz 6 ch (FL FR FC LFE SL SR)" in capsys.readouterr().out
