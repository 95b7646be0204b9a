"""The loader on titles built from real recordings: no window outside a used track's audio,
one downmix for 5.1, and clips that leave a worker square at the training scale."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dubclr.cli import main
from dubclr.config import from_dict
from dubclr.data.catalog import Catalog, ShotRecord
from dubclr.data.config import DataConfig
from dubclr.data.dataset import QuadrupletDataset, windows_outside_audio
from dubclr.data.loader import TrainLoader, load_selection
from dubclr.data.sampler import BatchItem, SameTitleBatchSampler
from dubclr.data.transforms import AudioFrontend
from dubclr.media import read_audio, read_video
from dubclr.media.writer import write_audio

RATE = 48000


def _config(catalog="unused.sqlite", **data) -> DataConfig:
    base = {"catalog": str(catalog), "sampler": {"batch_size": 2, "same_title": 1},
            "num_workers": 0, "video": {"num_frames": 4, "train_scale": [64, 80], "crop": 64,
                                        "eval_short_side": 72}}
    return from_dict(DataConfig, {**base, **data})


def _shot(real_media, name: str, end: float, shot_id: int = 0, start: float = 0.0) -> ShotRecord:
    """A shot of a real title as the catalog would give it (no index run needed)."""
    spec = real_media.spec(name)
    languages = tuple(t.language for t in spec.tracks)
    return ShotRecord(shot_id=shot_id, title_id=shot_id, title=name,
                      path=str(real_media.path(name)), index=0, start=start, end=end,
                      original_language=languages[0], languages=languages,
                      positions=tuple(range(len(languages))))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


# ---------------------------------------------------------------- item 1: audio where it is


def test_a_dub_that_stops_early_is_never_the_secondary_audio_of_a_window_past_its_end(
        real_catalog):
    """camera_480p_2997's Spanish dub stops at 4.0 s of 8.0 s; with `fixed:es` its second
    shot takes the original language instead of 4 s of silence."""
    catalog, _ = real_catalog
    ds = QuadrupletDataset(load_selection(_config(catalog, dub_policy="audio_only:fixed:es")),
                           _config(catalog, dub_policy="audio_only:fixed:es"))
    seen = set()
    for position, shot in enumerate(ds.shots):
        for slot in range(3):
            item = ds[BatchItem(position, 0, (5, 0, 0, 0, slot))]
            meta = item["meta"]
            assert windows_outside_audio(shot, meta) == [], (shot.title, meta)
            assert shot.has_audio(meta["lang_s"], meta["t_s"], meta["t_s"] + 3.0)
            for view in ("audio_p", "audio_s"):  # real sound in both (effects under speech)
                assert float(item[view].pow(2).mean().sqrt()) > 0.01, (shot.title, view, meta)
            seen.add((shot.title, shot.index, meta["lang_s"]))
    camera = sorted(s for s in seen if s[0] == "camera_480p_2997")
    assert camera == [("camera_480p_2997", 0, "es"), ("camera_480p_2997", 1, "en")]
    assert ("short_audio_540p_25", 0, "es") in seen


def test_the_separated_policy_keeps_only_shots_its_track_has_audio_over(real_media, tmp_path):
    folder = real_media.copy_to(tmp_path / "titles", "original_flag_360p_25")
    # a speech-removed track that stops at 5 s of 8 s: it covers the first shot (0-4 s) only
    write_audio(folder / "original_flag_360p_25.separated.flac",
                real_media.dialogue("en", 5.0, RATE), RATE)
    assert main(["index", str(folder), "--catalog", str(tmp_path / "c.sqlite")]) == 0
    cfg = _config(tmp_path / "c.sqlite", dub_policy="separated")
    with Catalog.open(cfg.catalog) as catalog:
        assert [s.index for s in catalog.shot_records()] == [0, 1]
    shots = load_selection(cfg)
    assert [(s.index, s.start, s.end) for s in shots] == [(0, 0.0, 4.0)]
    item = QuadrupletDataset(shots, cfg)[BatchItem(0, 0, (0, 0, 0, 0, 0))]
    assert item["meta"]["lang_p"] == "separated" and "audio_s" not in item
    assert windows_outside_audio(shots[0], item["meta"]) == []


def test_data_check_flags_any_window_outside_its_tracks_audio(real_catalog, tmp_path, capsys):
    catalog, _ = real_catalog
    with Catalog.open(catalog) as cat:
        second = [s for s in cat.shot_records() if s.title == "camera_480p_2997"][1]
    meta = {"t_p": second.start, "t_s": second.start + 0.2, "lang_p": "en", "lang_s": "es",
            "clip_seconds": 3.0}
    (problem,) = windows_outside_audio(second, meta)
    assert problem.startswith("a_s 'es' window") and "outside that track's audio" in problem
    assert windows_outside_audio(second, {**meta, "lang_s": "fr"}) == []

    config = tmp_path / "train.yaml"
    config.write_text(f"data:\n  catalog: {catalog}\n  dub_policy: fixed:es\n  num_workers: 0\n"
                      "  sampler: {batch_size: 4, same_title: 2, batches_per_epoch: 2}\n"
                      "  video: {num_frames: 2}\nmodel:\n  video: {frames: 2}\n")
    assert main(["data", "check", str(config), "--batches", "2", "--json"]) == 0
    items = [m for line in capsys.readouterr().out.splitlines() for m in json.loads(line)["items"]]
    assert len(items) == 8 and all(m["outside_audio"] == [] for m in items)


# ---------------------------------------------------------------- item 2: one downmix


@pytest.mark.parametrize("channels", [1, 2])
def test_a_5_1_track_keeps_its_centre_dialogue_for_mono_and_stereo_models(real_media, channels):
    """film_1080p_23976's Spanish track is AC-3 5.1 with the dialogue on the centre channel
    only. The loader, the encoder behind `dubclr embed` / HEAR and the front-end all fold it
    with the one downmix, so every channel a model gets carries the dialogue."""
    from dubclr.evaluate.encoder import Encoder
    from dubclr.models.av import build_model
    from dubclr.models.config import AudioTowerConfig, HeadConfig, ModelConfig

    name, t = "film_1080p_23976", 2.0
    speech = real_media.dialogue("es", real_media.spec(name).seconds, RATE)
    expected = speech[round(t * RATE):round(t * RATE) + 3 * RATE]
    cfg = _config(dub_policy="audio_only:fixed:es", audio={"channels": channels})
    ds = QuadrupletDataset([_shot(real_media, name, t + 3.0, start=t)], cfg)  # one window
    item = ds.load(0, 0, np.random.default_rng(0))
    assert item["meta"]["lang_s"] == "es" and item["meta"]["t_s"] == t
    assert item["audio_s"].shape == (channels, 3 * RATE)
    for channel in item["audio_s"].numpy():
        assert _correlation(channel, expected) > 0.9

    model = build_model(ModelConfig(
        video=None, audio=AudioTowerConfig(arch="mvit", preset="tiny", mel_bins=24,
                                           mel_frames=72, channels=channels),
        head=HeadConfig(hidden_dim=32, out_dim=16)))
    encoder = Encoder(model, provenance={"source": "test", "data": {"audio": {}}})
    read = encoder.read_audio(real_media.path(name), t, 3.0, track="es")
    assert read.shape == (channels, 3 * RATE)
    for channel in read:
        assert _correlation(channel, expected) > 0.9

    # the device-side front-end folds the raw 6 channels exactly as the readers do
    raw = read_audio(real_media.path(name), t, 3.0, track="es", mono=False)
    assert raw.shape[0] == 6
    frontend = AudioFrontend(channels=channels)
    got, want = frontend(torch.from_numpy(raw)[None]), frontend(torch.from_numpy(read)[None])
    heard = want > -60  # (float rounding moves bins near the -100 dB floor)
    assert heard.float().mean() > 0.5 and torch.allclose(got[heard], want[heard], atol=0.05)


# ---------------------------------------------------------------- item 3: per-clip resolution


def test_portrait_and_1080p_clips_leave_a_worker_square_at_the_training_scale(real_media):
    shots = [_shot(real_media, "film_1080p_23976", 3.5, 0),
             _shot(real_media, "portrait_540x960_2997", 3.3, 1)]
    cfg = _config(dub_policy="mono", num_workers=1)
    sampler = SameTitleBatchSampler([s.title_id for s in shots], 2, 1, seed=0)
    batch = next(iter(TrainLoader(QuadrupletDataset(shots, cfg), sampler, cfg)))
    for view in ("video_p", "video_s"):
        assert batch[view].shape == (2, 3, 4, 80, 80) and batch[view].dtype == torch.uint8
    for k, meta in enumerate(batch["meta"]):
        # the clip is a square of the frame as the decoder scaled it (short side 80),
        # nothing stretched or upscaled: find where along the long side it was cut
        path = real_media.path(meta["title"])
        scaled = read_video(path, meta["t_p"], 3.0, fps=25, num_frames=4, short_side=80)
        clip = batch["video_p"][k].permute(1, 2, 3, 0).numpy()
        long_axis = 1 if scaled.shape[1] > scaled.shape[2] else 2
        assert scaled.shape[3 - long_axis] == 80 and scaled.shape[long_axis] > 80
        cuts = [np.take(scaled, range(o, o + 80), axis=long_axis)
                for o in range(scaled.shape[long_axis] - 79)]
        assert any(np.array_equal(clip, cut) for cut in cuts), meta["title"]


def test_evaluation_clips_are_the_centre_square_at_the_eval_short_side(real_media):
    shot = _shot(real_media, "portrait_540x960_2997", 3.3)
    item = QuadrupletDataset([shot], _config(dub_policy="mono"), train=False).load(
        0, 0, np.random.default_rng(0))
    clip = item["video_p"].float()  # (3, T, 72, 72)
    assert clip.shape == (3, 4, 72, 72)
    full = read_video(shot.path, item["meta"]["t_p"], 3.0, fps=25, num_frames=4)  # 960 x 540
    centre = torch.from_numpy(full[:, 210:750]).permute(0, 3, 1, 2).float()
    reference = F.interpolate(centre, size=(72, 72), mode="bilinear", antialias=True)
    mse = float((clip.permute(1, 0, 2, 3) - reference).pow(2).mean())
    assert 10 * np.log10(255 ** 2 / mse) > 30  # PSNR, dB: the same picture, not a stretch
