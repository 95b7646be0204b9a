"""The training loader: catalog -> selection -> sampler -> workers -> batch dicts.

``TrainLoader`` owns the epoch and the position in it (the batches it has handed out), so
``state_dict()`` taken after batch n resumes at batch n+1 with the identical batches,
whatever the workers had prefetched. The sampler is a pure plan it asks for
``batches(epoch, start)``.

A torch DataLoader draws its workers' base seed when its iterator starts, from the global
RNG unless it is given a generator. ``TrainLoader`` gives it one seeded from (seed, epoch,
rank), so iterating never advances the training RNG stream: a run resumed mid-epoch stays
bitwise identical to an uninterrupted one.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator

import torch

from dubclr.data.catalog import Catalog, require_catalog_files
from dubclr.data.config import DataConfig
from dubclr.data.dataset import QuadrupletDataset, collate_quadruplets
from dubclr.data.sampler import BatchItem, SameTitleBatchSampler
from dubclr.data.selection import select_shots
from dubclr.data.transforms import seeded_generator
from dubclr.errors import ConfigError

log = logging.getLogger("dubclr.data")
DatasetFactory = Callable[[list, DataConfig], torch.utils.data.Dataset]


class TrainLoader:
    """Iterable of one rank's batches, from its place in the epoch to the epoch's end;
    ``len()`` is the number of batches per epoch."""

    def __init__(self, dataset: QuadrupletDataset, sampler: SameTitleBatchSampler,
                 cfg: DataConfig) -> None:
        self.dataset, self.sampler, self.cfg = dataset, sampler, cfg
        self.epoch = 0
        self.position = 0  # batches of this epoch already handed out
        self.clips = 0
        self.replaced = 0

    @property
    def batches_per_epoch(self) -> int:
        return self.sampler.batches_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch; a new epoch starts at its first batch, the current one keeps
        its place."""
        if int(epoch) != self.epoch:
            self.epoch, self.position = int(epoch), 0

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[dict]:
        batches = _Batches(self.sampler, self.epoch, self.position)
        workers = self.cfg.num_workers
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=batches, num_workers=workers,
            collate_fn=collate_quadruplets, worker_init_fn=_init_worker,
            prefetch_factor=self.cfg.prefetch_factor if workers > 0 else None,
            persistent_workers=False, generator=self.worker_seed_generator())
        for batch in loader:
            self.position += 1
            self._account(batch)
            yield batch

    def worker_seed_generator(self) -> torch.Generator:
        """The DataLoader's own RNG (workers' base seed), never the global one."""
        return seeded_generator(self.sampler.seed, self.epoch, self.sampler.rank)

    def _account(self, batch: dict) -> None:
        self.clips += len(batch["meta"])
        for meta in batch["meta"]:
            for failure in meta["replaced"]:
                self.replaced += 1
                log.warning("replaced a clip that failed to decode (%s shot %s): %s",
                            failure["title"], failure["shot"], failure["error"])

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "clips": self.clips,
                "replaced": self.replaced, "sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state["sampler"])
        self.epoch = int(state["epoch"])
        self.position = int(state.get("position", state.get("step", 0)))  # "step" before v0.2
        self.clips, self.replaced = int(state.get("clips", 0)), int(state.get("replaced", 0))


class _Batches:
    """The sampler's batches of one epoch from a position on (DataLoader's batch_sampler)."""

    def __init__(self, sampler: SameTitleBatchSampler, epoch: int, start: int) -> None:
        self.sampler, self.epoch, self.start = sampler, epoch, start

    def __iter__(self) -> Iterator[list[BatchItem]]:
        return self.sampler.batches(self.epoch, start=self.start)

    def __len__(self) -> int:
        return max(self.sampler.batches_per_epoch - self.start, 0)


def _init_worker(_worker_id: int) -> None:
    """One thread per worker; Ctrl-C is for the main process (a terminal sends SIGINT to
    the whole process group): it finishes its step, checkpoints and stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def load_selection(cfg: DataConfig) -> list:
    """The shots a config trains on (catalog read once, then closed). Checked here, before
    any decoding, for ``train`` and ``data check`` alike: every file the catalog names is
    there (one error listing the missing ones), and the languages the dub policy names are
    in some selected title."""
    policy = cfg.dub_policy
    with Catalog.open(cfg.catalog) as catalog:
        require_catalog_files(catalog)
        shots = select_shots(catalog.shot_records(), cfg.selection,
                             separated_only=policy.needs_separated)
    if policy.needs_separated and not shots:
        raise ConfigError("data.dub_policy 'separated' needs titles with a speech-removed "
                          "track (a `<title>.separated.<ext>` sidecar); none is in the "
                          "selection. Add them and re-run `dubclr index`")
    if shots:  # (an empty selection gets the sampler's error, which says what to check)
        policy.check_languages({lang for shot in shots for lang in shot.languages})
    return shots


def build_train_loader(cfg: DataConfig, *, rank: int = 0, world_size: int = 1,
                       seed: int = 0, dataset: DatasetFactory | None = None) -> TrainLoader:
    """The loader of one rank: batches of ``cfg.sampler.batch_size`` quadruplets.

    ``dataset(shots, cfg)`` makes the dataset the workers read (default: the originals,
    :class:`QuadrupletDataset`). With ``data.shards`` set, build the loader with
    :func:`dubclr.shards.loader.build_train_loader`, which passes the shard reader's (the
    shards package reads the catalog, so this layer cannot name it)."""
    if cfg.shards is not None and dataset is None:
        raise ConfigError(f"data.shards={cfg.shards} is set: build this loader with "
                          "dubclr.shards.loader.build_train_loader (as `dubclr train` does)")
    shots = load_selection(cfg)
    sampler = SameTitleBatchSampler([s.title_id for s in shots], cfg.sampler.batch_size,
                                    cfg.sampler.group_size(), rank=rank, world_size=world_size,
                                    seed=seed, batches_per_epoch=cfg.sampler.batches_per_epoch)
    return TrainLoader((dataset or QuadrupletDataset)(shots, cfg), sampler, cfg)
