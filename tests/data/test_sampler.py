"""Invariants of the same-title hard-negative sampler (property tests)."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dubclr.config import from_dict
from dubclr.data.config import SamplerConfig
from dubclr.data.sampler import SameTitleBatchSampler
from dubclr.errors import ConfigError


def _titles(shots_per_title: list[int]) -> list[int]:
    return [t for t, n in enumerate(shots_per_title) for _ in range(n)]


@st.composite
def setups(draw):
    batch = draw(st.integers(1, 12))
    k = draw(st.integers(1, batch))
    world = draw(st.integers(1, 3))
    shots = draw(st.lists(st.integers(1, 15), min_size=1, max_size=14))
    return batch, k, world, shots, draw(st.integers(0, 2**16))


def _sampler_or_none(titles, batch, k, world, seed, rank=0, steps=None):
    try:
        return SameTitleBatchSampler(titles, batch, k, rank=rank, world_size=world, seed=seed,
                                     batches_per_epoch=steps)
    except ConfigError:
        return None


@settings(max_examples=60, deadline=None)
@given(setups())
def test_batches_keep_the_group_structure(setup):
    batch, k, world, shots, seed = setup
    titles = _titles(shots)
    samplers = [_sampler_or_none(titles, batch, k, world, seed, rank=r, steps=3)
                for r in range(world)]
    if samplers[0] is None:  # infeasible: it must really be infeasible
        capacity = sum(min(n, k) for n in shots)
        assert capacity < batch or len(titles) < batch * world
        return
    try:
        per_rank = [list(s.batches(epoch=1)) for s in samplers]
    except ConfigError:
        # only when the ranks together exhaust the titles' shots within a step
        assert sum(min(n, k) for n in shots) < batch * world
        return
    for step in range(3):
        seen_in_step = []
        for rank in range(world):
            items = per_rank[rank][step]
            shots_in_batch = [it.shot for it in items]
            assert len(shots_in_batch) == batch
            assert len(set(shots_in_batch)) == batch  # no duplicate shot in a batch
            counts = Counter(titles[s] for s in shots_in_batch)
            assert max(counts.values()) <= k  # k per title at most
            groups = len(samplers[0].group_sizes())
            if all(n >= k for n in shots) and len(shots) >= world * groups:
                # every title has k shots and enough titles are untouched by other ranks
                expected = sorted([k] * (batch // k) + ([batch % k] if batch % k else []))
                assert sorted(counts.values()) == expected
            seen_in_step += shots_in_batch
        assert len(seen_in_step) == len(set(seen_in_step))  # ranks are disjoint


@settings(max_examples=40, deadline=None)
@given(setups(), st.integers(0, 5))
def test_resume_mid_epoch_gives_the_same_sequence(setup, start):
    batch, k, world, shots, seed = setup
    titles = _titles(shots)
    sampler = _sampler_or_none(titles, batch, k, world, seed, rank=world - 1, steps=6)
    if sampler is None:
        return
    try:
        full = list(sampler.batches(epoch=2))
    except ConfigError:
        return
    fresh = SameTitleBatchSampler(titles, batch, k, rank=world - 1, world_size=world, seed=0,
                                  batches_per_epoch=6)
    fresh.load_state_dict(sampler.state_dict())
    assert list(fresh.batches(2, start=start)) == full[start:]


def test_epochs_and_seeds_change_the_order():
    titles = _titles([10] * 8)
    s = SameTitleBatchSampler(titles, 8, 4, seed=1)
    a, b = list(s.batches(0)), list(s.batches(1))
    assert [i.shot for i in a[0]] != [i.shot for i in b[0]]
    assert list(s.batches(0)) == a  # deterministic
    other = SameTitleBatchSampler(titles, 8, 4, seed=2)
    assert [i.shot for i in other.batches(0).__next__()] != [i.shot for i in a[0]]


def test_titles_are_drawn_uniformly_not_by_shot_count():
    titles = _titles([40, 2, 2, 2])  # one long title, three short ones
    s = SameTitleBatchSampler(titles, 2, 2, seed=0, batches_per_epoch=400)
    firsts = Counter(titles[batch[0].shot] for batch in s.batches(0))
    assert all(60 <= firsts[t] <= 140 for t in range(4)), firsts


def test_short_titles_are_completed_from_another_title():
    titles = _titles([1, 1, 1, 1, 6])
    s = SameTitleBatchSampler(titles, 4, 4, seed=3, batches_per_epoch=5)
    for batch in s.batches(0):
        shots = [i.shot for i in batch]
        assert len(set(shots)) == 4


def test_group_size_spellings():
    assert SamplerConfig(batch_size=64, same_title="1/8").group_size() == 8
    assert SamplerConfig(batch_size=64, same_title=0.125).group_size() == 8
    assert from_dict(SamplerConfig, {"batch_size": 26, "same_title": 12}).group_size() == 12
    with pytest.raises(ConfigError, match="same_title"):
        SamplerConfig(batch_size=8, same_title=20)
    with pytest.raises(ConfigError, match="same_title"):
        SamplerConfig(batch_size=8, same_title="a/b")


def test_infeasible_selection_is_a_clear_error():
    with pytest.raises(ConfigError, match="batch_size"):
        SameTitleBatchSampler(_titles([2, 2]), 8, 2)
    s = SameTitleBatchSampler(_titles([3] * 4), 4, 2)
    with pytest.raises(ConfigError, match="another selection"):
        s.load_state_dict({"seed": 0, "fingerprint": "nope"})


@pytest.mark.parametrize("shots, batch, k, world", [([6] * 7, 8, 2, 1), ([2] * 9, 4, 2, 2)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_title_that_had_to_wait_gets_its_turn(shots, batch, k, world, seed):
    """Titles are drawn once per pass; one skipped in a batch (it already gave k shots, or
    another rank holds its shots) comes back first, so over an epoch no title falls behind
    by more than one turn of k shots."""
    titles = _titles(shots)
    given = Counter()
    for rank in range(world):
        s = SameTitleBatchSampler(titles, batch, k, rank=rank, world_size=world, seed=seed,
                                  batches_per_epoch=150)
        given.update(titles[item.shot] for b in s.batches(0) for item in b)
    assert len(given) == len(shots)
    assert max(given.values()) - min(given.values()) <= k, given


def test_every_slot_of_a_global_batch_draws_its_own_randomness():
    """The per-slot entropy (windows, replacements) differs across ranks, slots, batches and
    epochs: two ranks must not cut the same windows of their shots."""
    titles = _titles([6] * 8)
    ranks = [SameTitleBatchSampler(titles, 4, 2, rank=r, world_size=2, seed=5) for r in (0, 1)]
    entropies = [item.entropy for epoch in (0, 1) for s in ranks
                 for b in s.batches(epoch) for item in b]
    assert len(entropies) == 2 * 2 * 4 * len(list(ranks[0].batches(0)))
    assert len(set(entropies)) == len(entropies)


@pytest.mark.parametrize("world", [1, 2, 3])
def test_an_epoch_is_one_pass_over_the_shots_whatever_the_number_of_ranks(world):
    titles = _titles([7] * 10)  # 70 shots
    samplers = [SameTitleBatchSampler(titles, 4, 2, rank=r, world_size=world) for r in range(world)]
    drawn = [item.shot for s in samplers for b in s.batches(0) for item in b]
    assert 70 - 4 * world < len(drawn) <= 70  # every rank's batches together: about every shot once
    assert len(list(samplers[0].batches(0))) == 70 // (4 * world)
