"""Same-title hard-negative batches.

A rank's batch is made of groups of ``k`` distinct shots, each group from one title, titles
drawn uniformly (every title once per pass over the titles, in a fresh random order). With
``batch_size % k != 0`` the last group is smaller (26 with k = 12 -> 12 + 12 + 2). A title
with fewer than ``k`` shots gives all it has and the group is completed from the next title.
A title gives at most ``k`` shots to a rank's batch; no shot appears twice in a global
batch (all ranks' batches of one index).

The whole plan is a pure function of ``(seed, epoch, shots, batch_size, k, world_size)``:
every rank computes the same global plan and takes its own slice, and resuming at batch
``n`` replays the plan up to ``n``. The sampler holds no position: ``batches(epoch, start)``
is the plan from a place the loader gives it (the loader owns the epoch and its position).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from dubclr.errors import ConfigError


class BatchItem(NamedTuple):
    """One slot of a batch: which shot, and the entropy for its random choices."""

    shot: int  # position in the dataset's shot list
    batch: int  # the batch's index within the epoch (drives the cycle dub policy)
    entropy: tuple[int, ...]  # (seed, epoch, batch, rank, slot)


class SameTitleBatchSampler:
    """The plan of one rank's batches: lists of :class:`BatchItem`."""

    def __init__(self, titles: Sequence[int | str], batch_size: int, group_size: int, *,
                 rank: int = 0, world_size: int = 1, seed: int = 0,
                 batches_per_epoch: int | None = None) -> None:
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside world_size {world_size}")
        if not 1 <= group_size <= batch_size:
            raise ConfigError(f"same-title group size {group_size} must be within 1..{batch_size}")
        self.batch_size, self.group_size = batch_size, group_size
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self._shots_of: dict[int | str, list[int]] = {}
        for position, title in enumerate(titles):
            self._shots_of.setdefault(title, []).append(position)
        self._titles = sorted(self._shots_of, key=str)
        self._num_shots = len(titles)
        self._check_feasible()
        global_batch = batch_size * world_size  # an epoch is one pass over the shots
        self.batches_per_epoch = batches_per_epoch or max(1, self._num_shots // global_batch)
        self.fingerprint = _fingerprint(self._titles, self._shots_of, batch_size, group_size,
                                        world_size)

    def group_sizes(self) -> list[int]:
        full, rest = divmod(self.batch_size, self.group_size)
        return [self.group_size] * full + ([rest] if rest else [])

    def batches(self, epoch: int, start: int = 0) -> Iterator[list[BatchItem]]:
        """This rank's batches of ``epoch`` from batch ``start`` on."""
        for index, per_rank in enumerate(self.global_plan(epoch)):
            if index >= start:
                mine = per_rank[self.rank]
                yield [BatchItem(shot, index, (self.seed, epoch, index, self.rank, slot))
                       for slot, shot in enumerate(mine)]

    def global_plan(self, epoch: int) -> Iterator[list[list[int]]]:
        """For each batch of the epoch, every rank's list of shot positions."""
        rng = np.random.default_rng([self.seed, epoch, 0xD0B])
        queues = {t: deque() for t in self._titles}
        title_stream: deque = deque()
        for _ in range(self.batches_per_epoch):
            used: set[int] = set()  # no shot twice in one global batch
            yield [self._one_batch(rng, queues, title_stream, used)
                   for _rank in range(self.world_size)]

    def _one_batch(self, rng, queues, title_stream: deque, used: set[int]) -> list[int]:
        batch: list[int] = []
        taken: dict = {}  # title -> shots it already gave to this batch (at most k)
        deferred: list = []
        misses = 0
        k = self.group_size
        for need in self.group_sizes():
            while need > 0:
                if not title_stream:
                    title_stream.extend(self._titles[i] for i in rng.permutation(len(self._titles)))
                title = title_stream.popleft()
                room = k - taken.get(title, 0)
                free = [s for s in self._shots_of[title] if s not in used]
                # a title that lost shots to another rank this batch waits for a full one,
                # unless every title has been tried
                partial = len(free) < min(need, room) <= len(self._shots_of[title])
                if room <= 0 or not free or (partial and misses <= 2 * len(self._titles)):
                    deferred.append(title)
                    misses += 1
                    if misses > 4 * len(self._titles) + 2:  # every title tried twice: hopeless
                        raise ConfigError(
                            f"cannot fill a batch of {self.batch_size} x {self.world_size} ranks "
                            f"from {self._num_shots} shots in {len(self._titles)} titles without "
                            "repeating a shot; lower data.sampler.batch_size or select more titles")
                    continue
                take = min(need, room, len(free))
                batch.extend(self._pop_shots(rng, queues[title], title, take, used))
                taken[title] = taken.get(title, 0) + take
                if taken[title] < min(k, len(self._shots_of[title])):
                    deferred.append(title)  # it may complete the next group
                need -= take
                misses = 0
        title_stream.extendleft(reversed(deferred))  # skipped titles come first next time
        return batch

    def _pop_shots(self, rng, queue: deque, title, count: int, used: set[int]) -> list[int]:
        """``count`` shots of ``title`` not yet in this global batch, cycling its shuffled queue."""
        out: list[int] = []
        skipped: list[int] = []
        while len(out) < count:
            if not queue:
                shots = self._shots_of[title]
                queue.extend(shots[i] for i in rng.permutation(len(shots)))
            shot = queue.popleft()
            if shot in used or shot in out:
                skipped.append(shot)
                continue
            out.append(shot)
        queue.extend(skipped)
        used.update(out)
        return out

    def _check_feasible(self) -> None:
        if not self._titles:
            raise ConfigError("the selection holds no shots: check data.selection and that the "
                              "catalog was indexed (`dubclr catalog stats CATALOG`)")
        capacity = sorted((min(len(s), self.group_size) for s in self._shots_of.values()),
                          reverse=True)
        if sum(capacity) < self.batch_size:
            raise ConfigError(
                f"a batch of {self.batch_size} with at most {self.group_size} shots per title "
                f"needs more titles: the {len(self._titles)} selected titles give at most "
                f"{sum(capacity)}; lower data.sampler.batch_size, raise data.sampler.same_title, "
                "or select more titles")
        if self._num_shots < self.batch_size * self.world_size:
            raise ConfigError(
                f"{self._num_shots} shots cannot fill one global batch of "
                f"{self.batch_size} x {self.world_size} ranks; lower data.sampler.batch_size")

    def state_dict(self) -> dict:
        return {"seed": self.seed, "fingerprint": self.fingerprint}

    def load_state_dict(self, state: dict) -> None:
        if state.get("fingerprint") != self.fingerprint:
            raise ConfigError("the saved sampler state belongs to another selection of shots, "
                              "batch size or world size; resume with the same data config and "
                              "catalog, or start a new run")
        self.seed = int(state["seed"])


def _fingerprint(titles, shots_of, batch_size: int, group_size: int, world_size: int) -> str:
    h = hashlib.sha1(f"{batch_size}/{group_size}/{world_size}".encode())
    for title in titles:
        h.update(f"|{title}:{len(shots_of[title])}".encode())
    return h.hexdigest()[:16]
