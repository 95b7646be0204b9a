"""The training loader: catalog -> selection -> sampler -> workers -> batch dicts.

``TrainLoader`` counts the batches it has handed out, so ``state_dict()`` taken after step n
resumes at step n+1 with the identical batches, whatever the workers had prefetched.

A torch DataLoader draws its workers' base seed when its iterator starts, from the global
RNG unless it is given a generator. ``TrainLoader`` gives it one seeded from (seed, epoch,
rank), so iterating never advances the training RNG stream: a run resumed mid-epoch stays
bitwise identical to an uninterrupted one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import torch

from dubclr.data.catalog import Catalog
from dubclr.data.config import DataConfig
from dubclr.data.dataset import QuadrupletDataset, collate_quadruplets
from dubclr.data.policies import parse_dub_policy
from dubclr.data.sampler import BatchItem, SameTitleBatchSampler
from dubclr.data.selection import select_shots
from dubclr.errors import ConfigError

log = logging.getLogger("dubclr.data")


class TrainLoader:
    """Iterable of batches for one rank; ``len()`` is the number of steps per epoch."""

    def __init__(self, dataset: QuadrupletDataset, sampler: SameTitleBatchSampler,
                 cfg: DataConfig) -> None:
        self.dataset, self.sampler, self.cfg = dataset, sampler, cfg
        self.epoch = 0
        self.step = 0  # batches of this epoch already handed out
        self.clips = 0
        self.replaced = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch; a new epoch starts at step 0, the current one keeps its place."""
        if int(epoch) != self.epoch:
            self.epoch, self.step = int(epoch), 0
        self.sampler.set_epoch(self.epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[dict]:
        batches = _Batches(self.sampler, self.epoch, self.step)
        workers = self.cfg.num_workers
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=batches, num_workers=workers,
            collate_fn=collate_quadruplets, worker_init_fn=_one_thread_per_worker,
            prefetch_factor=self.cfg.prefetch_factor if workers > 0 else None,
            persistent_workers=False, generator=self.worker_seed_generator())
        for batch in loader:
            self.step += 1
            self._account(batch)
            yield batch

    def worker_seed_generator(self) -> torch.Generator:
        """The DataLoader's own RNG (workers' base seed), never the global one."""
        entropy = [x % 2**64 for x in (self.sampler.seed, self.epoch, self.sampler.rank)]
        seed = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
        return torch.Generator().manual_seed(int(seed) >> 1)

    def _account(self, batch: dict) -> None:
        self.clips += len(batch["meta"])
        for meta in batch["meta"]:
            for failure in meta["replaced"]:
                self.replaced += 1
                log.warning("replaced a clip that failed to decode (%s shot %s): %s",
                            failure["title"], failure["shot"], failure["error"])

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "step": self.step, "clips": self.clips,
                "replaced": self.replaced, "sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state["sampler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.clips, self.replaced = int(state.get("clips", 0)), int(state.get("replaced", 0))
        self.sampler.set_epoch(self.epoch)


class _Batches:
    """The sampler's batches of one epoch from a step on (what DataLoader iterates)."""

    def __init__(self, sampler: SameTitleBatchSampler, epoch: int, start: int) -> None:
        self.sampler, self.epoch, self.start = sampler, epoch, start

    def __iter__(self) -> Iterator[list[BatchItem]]:
        return self.sampler.batches(self.epoch, start=self.start)

    def __len__(self) -> int:
        return max(len(self.sampler) - self.start, 0)


def _one_thread_per_worker(_worker_id: int) -> None:
    torch.set_num_threads(1)


def load_selection(cfg: DataConfig) -> list:
    """The shots a config trains on (catalog read once, then closed)."""
    with Catalog.open(cfg.catalog) as catalog:
        shots = select_shots(catalog.shot_records(), cfg.selection)
    policy = parse_dub_policy(cfg.dub_policy)
    if policy.kind == "separated":
        with_sep = [s for s in shots if s.separated]
        if not with_sep:
            raise ConfigError("data.dub_policy 'separated' needs titles with a speech-removed "
                              "track (a `<title>.separated.<ext>` sidecar); none is in the "
                              "selection. Add them and re-run `dubclr index`")
        if len(with_sep) < len(shots):
            log.warning("dub policy 'separated': %d of %d shots have no speech-removed track "
                        "and are left out", len(shots) - len(with_sep), len(shots))
        shots = with_sep
    return shots


def build_train_loader(cfg: DataConfig, *, rank: int = 0, world_size: int = 1,
                       seed: int = 0) -> TrainLoader:
    """The loader of one rank: batches of ``cfg.sampler.batch_size`` quadruplets."""
    shots = load_selection(cfg)
    sampler = SameTitleBatchSampler([s.title_id for s in shots], cfg.sampler.batch_size,
                                    cfg.sampler.group_size(), rank=rank, world_size=world_size,
                                    seed=seed, steps_per_epoch=cfg.sampler.steps_per_epoch)
    return TrainLoader(QuadrupletDataset(shots, cfg), sampler, cfg)
