"""Training from prepared shards (``data.shards: OUT``): the items of the originals path, read from shards.

:class:`ShardQuadrupletDataset` is :class:`dubclr.data.dataset.QuadrupletDataset` with one
part replaced: the windows are read from the shot's shard record (both windows' frames from
one decode pass, scaled to the worker's short side on RGB conversion) instead of the original
file. The sampler, its plan, the window times, the dub choice, the squares (the same
:func:`dubclr.data.clips.square_clip` draws, in the same order), the retries and the item
format are the originals path's, so a run on shards sees the same titles, shots, window times
and languages, and resumes the same way. What differs is the pixels (the shard's one-time
25 fps conversion and codec) and the audio (resampled to 48 kHz once, stored in 16 bits).

:func:`build_train_loader` is the loader `dubclr train` and `dubclr data check` build: the
originals path without ``data.shards``, this one with it, after :func:`check_shards` found
every title, shot and language the selection needs in the shards.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dubclr.data.catalog import Catalog, ShotRecord
from dubclr.data.config import DataConfig
from dubclr.data.dataset import QuadrupletDataset
from dubclr.data.loader import TrainLoader
from dubclr.data.loader import build_train_loader as build_originals_loader
from dubclr.errors import CatalogError, ConfigError
from dubclr.shards.build import ShardOptions
from dubclr.shards.index import INDEX_NAME, ShardIndex
from dubclr.shards.pipeline import plan_jobs
from dubclr.shards.reader import ShardReader
from dubclr.shards.record import SEPARATED, audio_member

_LISTED = 5  # problems named in one error


class ShardQuadrupletDataset(QuadrupletDataset):
    """The originals path's items, read from the shards in ``cfg.shards``."""

    def __init__(self, shots: list[ShotRecord], cfg: DataConfig, train: bool = True) -> None:
        super().__init__(shots, cfg, train)
        self.reader = ShardReader(cfg.shards)  # opens its index per process, on first use

    def read_views(self, shot: ShotRecord, starts: tuple[float, float],
                   languages: tuple[str, str | None], rng: np.random.Generator) -> dict:
        views, cfg = self.policy.views, self.cfg
        video = "video_p" in views
        audio = [languages[0], languages[1] if "audio_s" in views else None]
        sample = self.reader.read(shot.title, shot.index, list(starts), audio,
                                  clip_seconds=cfg.clip_seconds, num_frames=cfg.video.num_frames,
                                  short_side=self.frame_size, channels=cfg.audio.channels,
                                  video=video, planar=True)
        out: dict = {}
        if video:  # the squares in the originals path's order: v_p's, then v_s's
            out["video_p"] = self.square_planes(sample.video[0], rng)
            out["video_s"] = self.square_planes(sample.video[1], rng)
        out["audio_p"] = _tensor(sample.audio[0])
        if audio[1] is not None:
            out["audio_s"] = _tensor(sample.audio[1])
        return out


def build_train_loader(cfg: DataConfig, *, rank: int = 0, world_size: int = 1,
                       seed: int = 0) -> TrainLoader:
    """One rank's training loader: from the originals, or from ``data.shards`` when set."""
    if cfg.shards is None:
        return build_originals_loader(cfg, rank=rank, world_size=world_size, seed=seed)

    def dataset(shots: list[ShotRecord], data_cfg: DataConfig) -> ShardQuadrupletDataset:
        check_shards(shots, data_cfg)
        return ShardQuadrupletDataset(shots, data_cfg)

    return build_originals_loader(cfg, rank=rank, world_size=world_size, seed=seed,
                                  dataset=dataset)


def check_shards(shots: list[ShotRecord], cfg: DataConfig, train: bool = True) -> None:
    """Raise ConfigError (naming the folder, what is missing and the command that fixes it)
    unless the shards in ``cfg.shards`` hold, as the catalog now describes them, every shot
    of ``shots`` with every track a dub policy may read, at a short side no smaller than the
    worker's and at the configured sample rate."""
    out = Path(cfg.shards)
    rebuild = f"run `dubclr shards build {cfg.catalog} {out}`"
    if not (out / INDEX_NAME).is_file():
        what = "does not exist" if not out.exists() else f"has no {INDEX_NAME}"
        raise ConfigError(f"data.shards: {out} {what}; {rebuild} (or set data.shards=null to "
                          "read the original files)")
    try:
        with ShardIndex(out / INDEX_NAME) as index:
            built = index.titles()
            titles = sorted({shot.title for shot in shots})
            records = {title: index.records(title) for title in titles if title in built}
    except CatalogError as exc:
        raise ConfigError(f"data.shards: {exc}") from None
    with Catalog.open(cfg.catalog) as catalog:
        jobs = {job.name: job for job in plan_jobs(catalog)}
    size = max(cfg.video.train_scale) if train else cfg.video.eval_short_side
    problems: list[str] = []
    for title in titles:
        row = built.get(title)
        if row is None:
            problems.append(f"title {title!r} is not in the shards")
            continue
        options = ShardOptions.from_json(row.options)
        if row.fingerprint != jobs[title].fingerprint:
            problems.append(f"title {title!r} was built from another catalog or before the "
                            f"catalog changed (shards: {row.path}, catalog: {jobs[title].path})")
        if options.short_side < size:
            problems.append(f"title {title!r} was built at short side {options.short_side}, "
                            f"below the {size} px the loader cuts (data.video.train_scale max); "
                            f"rebuild with --short-side {size} or more")
        if options.sample_rate != cfg.audio.sample_rate:
            problems.append(f"title {title!r} holds {options.sample_rate} Hz audio, "
                            f"data.audio.sample_rate is {cfg.audio.sample_rate}")
    for shot in shots:
        if shot.title not in records:
            continue  # (named above)
        record = records[shot.title].get(shot.index)
        if record is None:
            problems.append(f"title {shot.title!r} shot {shot.index} is not in the shards")
            continue
        wanted = list(shot.audio_languages) + ([SEPARATED] if cfg.dub_policy.needs_separated
                                               else [])
        lacking = [lang for lang in wanted if audio_member(lang) not in record.members]
        if lacking:
            problems.append(f"title {shot.title!r} shot {shot.index} has no {lacking} track "
                            f"in the shards (stored: {sorted(record.members)})")
    if problems:
        more = f" (and {len(problems) - _LISTED} more)" if len(problems) > _LISTED else ""
        raise ConfigError(f"data.shards: {out} does not match {cfg.catalog}: "
                          + "; ".join(problems[:_LISTED]) + more + f"; {rebuild}")


def _tensor(wave: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
