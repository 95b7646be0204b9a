"""Quadruplets on the tiny corpus: dub policies, windows, replacement, resume, selection."""

import dataclasses

import numpy as np
import pytest
import torch

from dubclr.data.catalog import Catalog
from dubclr.data.config import SelectionConfig
from dubclr.data.dataset import ClipLoadError, QuadrupletDataset
from dubclr.data.loader import build_train_loader, load_selection
from dubclr.data.policies import parse_dub_policy
from dubclr.data.sampler import BatchItem
from dubclr.data.selection import select_shots
from dubclr.errors import ConfigError
from dubclr.media import read_audio


def _dataset(data_config, catalog, policy, **kw):
    cfg = data_config(catalog, dub_policy=policy, **kw)
    return QuadrupletDataset(load_selection(cfg), cfg)


def test_cycle_policy_round_robins_per_batch_and_audio_is_the_dub(tiny_catalog, data_config):
    ds = _dataset(data_config, tiny_catalog, "cycle:es,fr,ja")
    for step, lang in enumerate(["es", "fr", "ja", "es"]):
        item = ds[BatchItem(1, step, (0, 0, step, 0, 0))]
        meta = item["meta"]
        assert (meta["lang_p"], meta["lang_s"]) == ("en", lang)
    shot = ds.shots[1]
    assert shot.start <= meta["t_p"] <= shot.end - 3 + 1e-3
    assert shot.start <= meta["t_s"] <= shot.end - 3 + 1e-3
    expected = read_audio(shot.path, meta["t_s"], 3.0, track="es")
    assert torch.equal(item["audio_s"][0], torch.from_numpy(expected))
    primary = read_audio(shot.path, meta["t_p"], 3.0, track="en")
    assert torch.equal(item["audio_p"][0], torch.from_numpy(primary))
    # a square at the training scale's maximum short side (320; the 160x90 source scaled up)
    assert item["video_p"].shape == (3, 16, 320, 320) and item["video_p"].dtype == torch.uint8


@pytest.mark.parametrize("policy, expected", [("mono", {"en"}), ("fixed:fr", {"fr"}),
                                               ("random", {"es", "fr", "ja"})])
def test_language_policies(tiny_catalog, data_config, policy, expected):
    ds = _dataset(data_config, tiny_catalog, policy)
    langs = {ds.load(p, 0, np.random.default_rng(p))["meta"]["lang_s"] for p in range(len(ds))}
    assert langs == expected if policy != "random" else langs <= expected and len(langs) >= 2


def test_a_language_no_selected_title_has_is_an_error_naming_what_they_have(tiny_catalog,
                                                                            data_config):
    for policy in ("fixed:de", "cycle:es,de"):
        with pytest.raises(ConfigError, match="no selected title has a track in de; the titles "
                                              "have en, es, fr, ja"):
            load_selection(data_config(tiny_catalog, dub_policy=policy))
    with pytest.raises(ConfigError, match="'jp'.*not a language code"):
        data_config(tiny_catalog, dub_policy="cycle:es,jp")


def test_cycle_falls_back_to_the_next_language_the_title_has(
        catalog_without_french_in_one_title, data_config):
    """Batch 1 of cycle:es,fr,ja is French; title_001 has no French track, so its items
    take the next language in the cycle (ja) while the other titles' items are French."""
    ds = _dataset(data_config, catalog_without_french_in_one_title, "cycle:es,fr,ja")
    by_title = {}
    for position, shot in enumerate(ds.shots):
        by_title.setdefault(shot.title, position)
    assert sorted(by_title) == ["title_000", "title_001", "title_002"]
    assert "fr" not in ds.shots[by_title["title_001"]].languages
    for batch, expected in enumerate([("es", "es"), ("fr", "ja"), ("ja", "ja")]):
        got = tuple(ds[BatchItem(by_title[t], batch, (0, 0, batch, 0, 0))]["meta"]["lang_s"]
                    for t in ("title_000", "title_001"))
        assert got == expected, batch
    item = ds[BatchItem(by_title["title_001"], 1, (0, 0, 1, 0, 0))]
    shot = ds.shots[by_title["title_001"]]
    expected = read_audio(shot.path, item["meta"]["t_s"], 3.0, track="ja")
    assert torch.equal(item["audio_s"][0], torch.from_numpy(expected))  # the Japanese track


def test_fixed_falls_back_to_the_primary_for_a_title_without_the_language(
        catalog_without_french_in_one_title, data_config):
    ds = _dataset(data_config, catalog_without_french_in_one_title, "fixed:fr")
    langs = {s.title: ds.load(p, 0, np.random.default_rng(p))["meta"]["lang_s"]
             for p, s in enumerate(ds.shots)}
    assert langs == {"title_000": "fr", "title_001": "en", "title_002": "fr"}


def test_separated_and_audio_only_batches(tiny_catalog, data_config):
    sep = build_train_loader(data_config(tiny_catalog, dub_policy="separated"))
    batch = next(iter(sep))
    assert "audio_s" not in batch and batch["video_p"].shape[0] == 4
    assert all(m["lang_p"] == "separated" and m["lang_s"] is None for m in batch["meta"])
    aud = build_train_loader(data_config(tiny_catalog, dub_policy="audio_only:cycle:es,fr",
                                         audio__channels=2))
    batch = next(iter(aud))
    assert set(batch) == {"audio_p", "audio_s", "meta"}
    assert batch["audio_p"].shape == (4, 2, 144000)
    assert {m["lang_s"] for m in batch["meta"]} == {"es"}


def test_policy_strings_are_validated():
    assert parse_dub_policy("audio_only").kind == "mono"
    for text in ("mono", "fixed:es", "cycle:es,fr,ja", "random", "separated", "audio_only",
                 "audio_only:cycle:es,fr"):
        assert str(parse_dub_policy(text)) == text  # written back as read
    assert parse_dub_policy("cycle:spa,fre,jpn").languages == ("es", "fr", "ja")
    for bad in ("cycle", "fixed:es,fr", "random:es", "dub", "audio_only:separated"):
        with pytest.raises(ConfigError, match="dub_policy"):
            parse_dub_policy(bad)


def test_a_clip_that_fails_is_replaced_from_the_same_title(tiny_catalog, data_config):
    ds = _dataset(data_config, tiny_catalog, "mono")
    broken = dataclasses.replace(ds.shots[0], start=500.0, end=504.0)  # past the file's end
    ds.shots[0] = broken
    item = ds[BatchItem(0, 0, (0, 0, 0, 0, 0))]
    meta = item["meta"]
    assert meta["title"] == broken.title and meta["shot"] != broken.index
    assert len(meta["replaced"]) == 1 and "window starts at 500." in meta["replaced"][0]["error"]
    # every shot broken: bounded retries, then a typed error
    ds.shots = [dataclasses.replace(s, start=500.0, end=504.0) for s in ds.shots]
    with pytest.raises(ClipLoadError, match="failed to decode"):
        ds[BatchItem(0, 0, (0, 0, 0, 0, 0))]


def test_loader_counts_replacements(tiny_catalog, data_config):
    loader = build_train_loader(data_config(tiny_catalog, dub_policy="mono"))
    first = loader.dataset.shots[0]
    loader.dataset.shots[0] = dataclasses.replace(first, start=500.0, end=504.0)
    for _ in loader:
        pass
    assert loader.clips == 4 * len(loader)
    assert loader.replaced == sum(1 for b in loader.sampler.batches(0) for i in b if i.shot == 0)


def test_resume_mid_epoch_gives_identical_batches(tiny_catalog, data_config):
    cfg = data_config(tiny_catalog, num_workers=2, sampler__batches_per_epoch=3)
    loader = build_train_loader(cfg, seed=5)
    loader.set_epoch(1)
    full = list(loader)
    loader2 = build_train_loader(cfg, seed=5)
    loader2.set_epoch(1)
    it = iter(loader2)
    next(it)
    state = loader2.state_dict()
    del it
    resumed = build_train_loader(cfg, seed=5)
    resumed.load_state_dict(state)
    resumed.set_epoch(1)  # the trainer calls it again: the position is kept
    rest = list(resumed)
    assert len(rest) == 2
    for a, b in zip(full[1:], rest):
        assert a["meta"] == b["meta"]
        for key in ("video_p", "video_s", "audio_p", "audio_s"):
            assert torch.equal(a[key], b[key])
    resumed.set_epoch(2)
    assert resumed.position == 0 and len(list(resumed)) == 3


def test_two_ranks_get_disjoint_batches(tiny_catalog, data_config):
    cfg = data_config(tiny_catalog, sampler__batch_size=2, sampler__same_title=2)
    ranks = [build_train_loader(cfg, rank=r, world_size=2) for r in range(2)]
    for b0, b1 in zip(*(r.sampler.batches(0) for r in ranks)):
        assert not {i.shot for i in b0} & {i.shot for i in b1}


def test_selection_filters(tiny_catalog, data_config):
    with Catalog.open(tiny_catalog) as cat:
        shots = cat.shot_records()
    assert select_shots(shots, SelectionConfig()) == shots
    assert select_shots(shots, SelectionConfig(original_languages=["fr"])) == []
    assert select_shots(shots, SelectionConfig(original_languages=["eng"])) == shots
    assert select_shots(shots, SelectionConfig(min_tracks=5)) == []
    assert select_shots(shots, SelectionConfig(languages_required=["es", "ja"])) == shots
    five = select_shots(shots, SelectionConfig(max_clips=5))
    assert len(five) == 5 and set(five) <= set(shots)
    assert set(select_shots(shots, SelectionConfig(max_clips=3))) <= set(five)
    with pytest.raises(ConfigError, match="no shots"):
        build_train_loader(data_config(tiny_catalog, selection__min_tracks=9))


def test_the_separated_policy_filters_titles_before_the_clip_budget(tiny_catalog):
    with Catalog.open(tiny_catalog) as cat:
        shots = cat.shot_records()
    first = select_shots(shots, SelectionConfig(max_clips=1))[0].title  # the budget's first
    stripped = [dataclasses.replace(s, separated=None) if s.title == first else s for s in shots]
    kept = select_shots(stripped, SelectionConfig(max_clips=5), separated_only=True)
    assert len(kept) == 5 and all(s.separated for s in kept)  # the budget counts usable shots
    assert first in {s.title for s in select_shots(stripped, SelectionConfig(max_clips=5))}


@pytest.mark.parametrize("workers", [0, 2])
def test_iterating_leaves_the_global_rng_alone(tiny_catalog, data_config, workers):
    cfg = data_config(tiny_catalog, num_workers=workers, sampler__batches_per_epoch=2)
    loader = build_train_loader(cfg, seed=3, rank=0)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    it = iter(loader)
    next(it)
    del it
    loader.set_epoch(1)
    assert len(list(loader)) == 2
    assert torch.equal(torch.get_rng_state(), state)
    seeds = {(e, r): build_train_loader(cfg, seed=3, rank=r, world_size=2)
             for e in (0, 1) for r in (0, 1)}
    for (e, _), ld in seeds.items():
        ld.set_epoch(e)
    firsts = {k: ld.worker_seed_generator().initial_seed() for k, ld in seeds.items()}
    assert len(set(firsts.values())) == 4  # workers' seeds differ by epoch and rank
    assert firsts[(1, 1)] == seeds[(1, 1)].worker_seed_generator().initial_seed()
