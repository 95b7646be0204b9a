"""Training on shards (``data.shards``) against training on the originals, through the loader.

Both loaders are built from one config and seed; the shards path must give the same items
(titles, shots, window times, languages: the sampler, its plan and every random draw are
shared) in the same format, audio equal up to resampling error and video up to codec error.

Video: at a 25 fps title the two paths show the same frames, cut to the same squares: every
frame >= 30 dB PSNR. The 29.97 fps title's shard was put on the 25 fps grid once, by time,
where the originals path resamples each window: a sampled frame can then be a neighbouring
source frame (up to 2 frames, 67 ms, earlier: tests/shards/test_equivalence.py counts them
on frame-index strips). Here the test counts such frames (PSNR below 30 dB) and bounds their
difference: each is still >= 18 dB, the difference of a neighbouring frame of that footage.

Audio: compared after the best alignment within 1 ms (Matroska stores timestamps in whole
milliseconds, so a window read after a seek and the shot read once can place an AAC track's
samples up to 0.5 ms apart: the test prints the lags; on the real titles 0 or 14-15 samples),
the RMS of the difference stays below the RMS of the signal's own sample-to-sample change:
less than a one-sample shift, which is what resampling 44.1 kHz once per shot instead of once
per window (a sub-sample realignment) gives. A 48 kHz FLAC/Opus track is equal but for the
16-bit storage step.
"""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import pytest
import torch

from dubclr.config import from_dict
from dubclr.data.config import DataConfig
from dubclr.data.loader import build_train_loader as build_originals_loader
from dubclr.errors import ConfigError
from dubclr.shards.build import ShardOptions
from dubclr.shards.loader import ShardQuadrupletDataset, build_train_loader
from dubclr.shards.pipeline import build_shards

PSNR_BOUND = 30.0
MOVED_FRAME_BOUND = 18.0
MAX_LAG = 48  # samples at 48 kHz: 1 ms, Matroska's timestamp resolution
AUDIO_BOUND = 1.0  # RMS of the difference, in RMS sample-to-sample steps of the signal
META = ("title", "shot", "shot_id", "t_p", "t_s", "lang_p", "lang_s", "clip_seconds")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def config(catalog, shards, **data) -> DataConfig:
    base = {"catalog": str(catalog), "shards": str(shards) if shards else None,
            "sampler": {"batch_size": 4, "same_title": 2}, "num_workers": 0,
            "dub_policy": "random", "clip_seconds": 2.0,
            "video": {"num_frames": 6, "train_scale": [72, 80], "crop": 64,
                      "eval_short_side": 64}}
    return from_dict(DataConfig, {**base, **data})


@pytest.fixture(scope="module")
def real_shards(real_catalog, ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("real_shards")
    report = build_shards(real_catalog[0], out, ShardOptions(short_side=160),
                          show_progress=False)
    assert report.failed == [] and report.built == 3
    return out


def both(cfg: DataConfig, batches: int, **kwargs) -> list[tuple[dict, dict]]:
    originals = build_originals_loader(
        from_dict(DataConfig, {**_plain(cfg), "shards": None}), **kwargs)
    shards = build_train_loader(cfg, **kwargs)
    assert isinstance(shards.dataset, ShardQuadrupletDataset)
    return list(zip(_take(originals, batches), _take(shards, batches)))


def _take(loader, count: int) -> list[dict]:
    out = []
    for batch in loader:
        out.append(batch)
        if len(out) == count:
            break
    return out


def _plain(cfg: DataConfig) -> dict:
    from dubclr.config import to_dict

    return to_dict(cfg)


def aligned(x: torch.Tensor, y: torch.Tensor) -> tuple[int, float]:
    """The shift of ``y`` against ``x`` (samples, within MAX_LAG) that best aligns them, and
    the RMS of their difference there relative to what a shift by one sample changes in
    ``x`` (the RMS of its sample-to-sample steps, plus the 16-bit storage step)."""
    best = None
    reference = x[..., MAX_LAG:x.shape[-1] - MAX_LAG]
    step = float(reference.diff(dim=-1).pow(2).mean().sqrt()) + 2 ** -15
    for lag in range(-MAX_LAG, MAX_LAG + 1):
        shifted = y[..., MAX_LAG + lag:x.shape[-1] - MAX_LAG + lag]
        error = float((shifted - reference).pow(2).mean().sqrt()) / step
        if best is None or error < best[1]:
            best = (lag, error)
    return best


def compare(original: dict, shard: dict, fps_of: dict[str, float],
            lags: list[int] | None = None) -> list[float]:
    """Assert one batch pair equal as the module says; the PSNR of frames that moved.
    ``lags`` collects each audio clip's alignment."""
    lags = [] if lags is None else lags
    assert original.keys() == shard.keys()
    assert [{k: m[k] for k in META} for m in original["meta"]] == \
        [{k: m[k] for k in META} for m in shard["meta"]]
    moved = []
    for key in original:
        if key == "meta":
            continue
        a, b = original[key], shard[key]
        assert (a.shape, a.dtype) == (b.shape, b.dtype), key
        if key.startswith("audio"):
            for x, y in zip(a, b):
                lag, error = aligned(x, y)
                assert abs(lag) <= MAX_LAG and error <= AUDIO_BOUND, (key, lag, error)
                lags.append(lag)
            continue
        for item, meta in enumerate(original["meta"]):
            for frame in range(a.shape[2]):
                quality = psnr(a[item, :, frame], b[item, :, frame])
                if quality < PSNR_BOUND:
                    assert fps_of[meta["title"]] != 25.0, (meta["title"], key, frame, quality)
                    assert quality >= MOVED_FRAME_BOUND, (meta["title"], key, frame, quality)
                    moved.append(quality)
    return moved


@pytest.mark.parametrize("policy", ["random", "cycle:es,fr,ja", "separated",
                                    "audio_only:cycle:es,fr"])
def test_the_synthetic_corpus_gives_the_same_items_from_shards(tiny_catalog, tiny_shards,
                                                              policy):
    pairs = both(config(tiny_catalog, tiny_shards, dub_policy=policy), 2, seed=4)
    assert len(pairs) == 2  # the whole epoch
    for original, shard in pairs:
        assert compare(original, shard, {}) == []  # 25 fps: the same frames everywhere
        if policy.startswith("cycle"):
            assert len({m["lang_s"] for m in shard["meta"]}) == 1


def test_real_titles_give_the_same_items_from_shards(real_catalog, real_shards):
    from dubclr.data.catalog import Catalog

    with Catalog.open(real_catalog[0]) as catalog:
        fps_of = {t.name: round(t.fps, 3) for t in catalog.titles()}
    cfg = config(real_catalog[0], real_shards, audio={"channels": 2},
                 sampler={"batch_size": 2, "same_title": 1}, clip_seconds=1.5,
                 video={"num_frames": 6, "train_scale": [128, 160], "crop": 128,
                        "eval_short_side": 128})
    moved, frames, lags = [], 0, []
    for original, shard in both(cfg, 4, seed=1):
        moved += compare(original, shard, fps_of, lags)
        frames += 2 * shard["video_p"].shape[0] * shard["video_p"].shape[2]
        assert shard["video_p"].shape[-2:] == (160, 160)  # no larger than the training scale
    assert len(moved) <= frames // 3, f"{len(moved)} of {frames} frames moved"
    print(f"moved frames: {len(moved)} of {frames}, PSNR {sorted(moved)}; audio lags {lags}")


def test_two_ranks_read_disjoint_shots_and_resume_exactly(tiny_catalog, tiny_shards):
    cfg = config(tiny_catalog, tiny_shards, sampler={"batch_size": 2, "same_title": 1})
    ranks = [build_train_loader(cfg, rank=r, world_size=2, seed=7) for r in (0, 1)]
    first = [next(iter(loader))["meta"] for loader in ranks]
    assert not {m["shot_id"] for m in first[0]} & {m["shot_id"] for m in first[1]}

    loader = build_train_loader(cfg, seed=7)
    loader.set_epoch(1)
    straight = list(loader)
    assert len(straight) >= 2
    resumed = build_train_loader(cfg, seed=7)
    resumed.set_epoch(1)
    next(iter(resumed))
    state = resumed.state_dict()
    again = build_train_loader(cfg, seed=7)
    again.load_state_dict(state)
    rest = list(again)
    assert [b["meta"] for b in rest] == [b["meta"] for b in straight[1:]]
    for a, b in zip(rest, straight[1:]):
        assert torch.equal(a["video_p"], b["video_p"]) and torch.equal(a["audio_s"], b["audio_s"])


def test_workers_return_the_items_of_the_main_process(tiny_catalog, tiny_shards):
    cfg = config(tiny_catalog, tiny_shards)
    inline = next(iter(build_train_loader(cfg, seed=2)))
    cfg.num_workers = 2
    handler = signal.getsignal(signal.SIGINT)
    forked = next(iter(build_train_loader(cfg, seed=2)))
    assert signal.getsignal(signal.SIGINT) == handler
    assert inline["meta"] == forked["meta"]
    assert torch.equal(inline["video_s"], forked["video_s"])


def test_shards_that_do_not_match_the_selection_are_named_with_the_fix(
        tiny_catalog, tiny_shards, real_catalog, tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist; run `dubclr shards build"):
        build_train_loader(config(tiny_catalog, tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"short side 80, below the 96 px .* --short-side 96"):
        build_train_loader(config(tiny_catalog, tiny_shards,
                                  video={"train_scale": [64, 96], "crop": 64,
                                         "eval_short_side": 64}))
    with pytest.raises(ConfigError, match=r"title '.*' is not in the shards.*dubclr shards build"):
        build_train_loader(config(real_catalog[0], tiny_shards, dub_policy="mono"))
    with pytest.raises(ConfigError, match="data.shards=.* is set"):
        build_originals_loader(config(tiny_catalog, tiny_shards))


def test_data_check_and_train_check_read_the_shards(tiny_catalog, tiny_shards, tmp_path, capsys):
    from dubclr.cli import main

    toy = Path(__file__).resolve().parents[2] / "configs" / "toy" / "EN.yaml"
    common = [f"data.catalog={tiny_catalog}", "data.num_workers=0", f"run_dir={tmp_path}",
              "data.sampler.batch_size=4"]
    assert main(["data", "check", str(toy), "--batches", "1", "--json",
                 *[f"--set={x}" for x in common], f"--set=data.shards={tiny_shards}"]) == 0
    (batch,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert batch["shapes"]["video_p"] == [4, 3, 8, 80, 80]
    assert main(["train", str(toy), *common, f"data.shards={tiny_shards}", "--check"]) == 0
    assert f"read from the shards in {tiny_shards}" in capsys.readouterr().out
    assert main(["train", str(toy), *common, f"data.shards={tmp_path / 'none'}", "--check"]) == 2
    err = capsys.readouterr().err
    assert f"data.shards: {tmp_path / 'none'} does not exist; run `dubclr shards build" in err
