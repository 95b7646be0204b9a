"""Quadruplets (v_p, a_p, v_s, a_s) from one shot, decoded in DataLoader workers.

Each item gets two independent ``clip_seconds`` windows inside its shot (temporal jitter):
the primary window carries the title's original language, the secondary window the
language the dub policy picks among the tracks with audio over the whole shot
(``ShotRecord.audio_languages``), so every window lies where each track it uses has audio.
All random choices come from the item's entropy (seed, epoch, batch, rank, slot), never
from worker state, so a resumed run decodes the same clips. A clip that fails to decode is
replaced by another shot of the same title (then, if the title has none left, of another
title), up to ``max_retries`` times each.

An item (what leaves a worker) is a dict with the policy's views
(``DubPolicy.views``) and ``meta``:

- ``video_p``, ``video_s``: uint8 ``(3, T, S, S)``: ``T = video.num_frames`` frames at
  ``video.fps``, decoded at short side ``S`` and cut to a square (:mod:`dubclr.data.clips`);
  ``S = max(video.train_scale)`` for training, ``video.eval_short_side`` for evaluation;
- ``audio_p``, ``audio_s``: float32 ``(C, N)``, ``C = audio.channels`` folded by the one
  downmix (:mod:`dubclr.media.channels`), ``N = round(clip_seconds * audio.sample_rate)``;
- ``meta``: ``title``, ``shot`` (index), ``shot_id``, ``t_p``, ``t_s`` (window starts, s),
  ``lang_p`` (``'separated'`` under that policy), ``lang_s`` (None without a_s),
  ``clip_seconds``, ``replaced`` (clips that failed to decode and were replaced).
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import torch

from dubclr.data.catalog import ShotRecord
from dubclr.data.clips import square_planes
from dubclr.data.config import DataConfig
from dubclr.data.sampler import BatchItem
from dubclr.errors import DubclrError
from dubclr.media import MediaError, read_audio, read_video

log = logging.getLogger("dubclr.data")


class ClipLoadError(DubclrError):
    """Every replacement for a clip failed to decode: the media behind the catalog is broken."""


class QuadrupletDataset(torch.utils.data.Dataset):
    """Map-style dataset indexed by :class:`BatchItem` (from the sampler). ``train``:
    clips at the training scale's maximum short side, squares at random positions; else at
    the evaluation short side, centred."""

    def __init__(self, shots: list[ShotRecord], cfg: DataConfig, train: bool = True) -> None:
        self.shots = shots
        self.cfg = cfg
        self.policy = cfg.dub_policy
        self.train = train
        self.frame_size = max(cfg.video.train_scale) if train else cfg.video.eval_short_side
        self._by_title: dict[int, list[int]] = defaultdict(list)
        for position, shot in enumerate(shots):
            self._by_title[shot.title_id].append(position)

    def __len__(self) -> int:
        return len(self.shots)

    def __getitem__(self, item: BatchItem) -> dict:
        if not isinstance(item, BatchItem):
            item = BatchItem(int(item), 0, (0, 0, 0, 0, int(item)))
        rng = np.random.default_rng(list(item.entropy))
        position, failures, tried = item.shot, [], set()
        for attempt in range(2 * self.cfg.max_retries + 1):
            try:
                sample = self.load(position, item.batch, rng)
            except MediaError as exc:
                shot = self.shots[position]
                failures.append({"title": shot.title, "shot": shot.index, "error": str(exc)})
                tried.add(position)
                position = self._replacement(position, rng, tried,
                                             same_title=attempt < self.cfg.max_retries)
                continue
            sample["meta"]["replaced"] = failures
            return sample
        raise ClipLoadError(
            f"{len(failures)} clips in a row failed to decode, last: {failures[-1]['error']}; "
            "check the media files (`dubclr media probe FILE`) and re-run `dubclr index`")

    def _replacement(self, position: int, rng: np.random.Generator, tried: set[int],
                     same_title: bool) -> int:
        """Another shot of the same title while retries last, then of another title."""
        shot = self.shots[position]
        if same_title:
            candidates = [p for p in self._by_title[shot.title_id] if p not in tried]
            if candidates:
                return candidates[int(rng.integers(len(candidates)))]
        others = [t for t in self._by_title if t != shot.title_id] or [shot.title_id]
        title = others[int(rng.integers(len(others)))]
        shots = self._by_title[title]
        return shots[int(rng.integers(len(shots)))]

    def load(self, position: int, batch: int, rng: np.random.Generator) -> dict:
        """Decode the views of one shot for batch ``batch`` of the epoch (the policy's
        views: a quadruplet, or less); raises MediaError when a clip cannot be read."""
        shot, cfg = self.shots[position], self.cfg
        t_p, t_s = self._window(shot, rng), self._window(shot, rng)
        lang_p = primary_language(shot)
        # only tracks with audio over the whole shot: a dub that stops early is never a_s
        lang_s = self.policy.secondary_language(lang_p, list(shot.audio_languages), batch, rng)
        if self.policy.needs_separated:  # (selection keeps shots the separated track covers)
            lang_p = "separated"
        out = self.read_views(shot, (t_p, t_s), (lang_p, lang_s), rng)
        out["meta"] = {"title": shot.title, "shot": shot.index, "shot_id": shot.shot_id,
                       "t_p": t_p, "t_s": t_s, "lang_p": lang_p,
                       "lang_s": lang_s, "clip_seconds": cfg.clip_seconds}
        return out

    def read_views(self, shot: ShotRecord, starts: tuple[float, float],
                   languages: tuple[str, str | None], rng: np.random.Generator) -> dict:
        """The policy's views of windows ``starts`` (primary, secondary) with audio in
        ``languages`` (``'separated'``: the speech-removed track); the squares are drawn
        from ``rng``, v_p's first. Here from the original files, window by window."""
        (t_p, t_s), (lang_p, lang_s) = starts, languages
        views, out = self.policy.views, {}
        if "video_p" in views:
            out["video_p"] = self._video(shot, t_p, rng)
            out["video_s"] = self._video(shot, t_s, rng)
        if lang_p == "separated":
            out["audio_p"] = self._audio(shot.separated, t_p, None)
        else:
            out["audio_p"] = self._audio(shot.path, t_p, _track(shot, lang_p))
        if "audio_s" in views:
            out["audio_s"] = self._audio(shot.path, t_s, _track(shot, lang_s))
        return out

    def _window(self, shot: ShotRecord, rng: np.random.Generator) -> float:
        slack = max(shot.length - self.cfg.clip_seconds, 0.0)
        return round(shot.start + float(rng.uniform(0.0, slack)), 4) if slack > 0 else shot.start

    def _video(self, shot: ShotRecord, start: float, rng: np.random.Generator) -> torch.Tensor:
        """uint8 ``(3, T, S, S)``: scaled in the decoder, then cut square in this worker."""
        frames = read_video(shot.path, start, self.cfg.clip_seconds, fps=self.cfg.video.fps,
                            num_frames=self.cfg.video.num_frames, short_side=self.frame_size)
        return self.square(frames, rng)

    def square(self, frames: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """``(T, H, W, 3)`` (as ``read_video`` returns) -> uint8 ``(3, T, S, S)``."""
        return self.square_planes(frames.transpose(3, 0, 1, 2), rng)

    def square_planes(self, planes: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """``(3, T, H, W)`` -> uint8 ``(3, T, S, S)``: the square of
        :func:`dubclr.data.clips.square_planes` (drawn from ``rng`` in training, centred
        else)."""
        square = square_planes(planes, self.frame_size, rng if self.train else None)
        return torch.from_numpy(np.ascontiguousarray(square))

    def _audio(self, path: str, start: float, track: int | None) -> torch.Tensor:
        """float32 ``(C, N)``, folded to ``audio.channels`` by the one downmix."""
        wave = read_audio(path, start, self.cfg.clip_seconds, track=track,
                          sample_rate=self.cfg.audio.sample_rate, channels=self.cfg.audio.channels)
        return torch.from_numpy(wave)


def primary_language(shot: ShotRecord) -> str:
    """The language of a_p: the title's original (trainable shots have its audio)."""
    if shot.original_language in shot.audio_languages:
        return shot.original_language
    return shot.audio_languages[0] if shot.audio_languages else "und"


def _track(shot: ShotRecord, language: str) -> int | None:
    """The track position of ``language`` (None: a title without tagged tracks, whose
    default track is read)."""
    return shot.track_for(language) if language in shot.languages else None


def windows_outside_audio(shot: ShotRecord, meta: dict) -> list[str]:
    """The audio windows of an item that reach outside their track's audio (the catalog's
    measured extent): each would train on silence as a positive. Empty for a sound item."""
    clip, found = meta["clip_seconds"], []
    for view, start, language in (("a_p", meta["t_p"], meta["lang_p"]),
                                  ("a_s", meta["t_s"], meta["lang_s"])):
        if language is None or (not shot.languages and language != "separated"):
            continue  # no a_s; or a title without tagged tracks (nothing measured to check)
        if not shot.has_audio(language, start, start + clip):
            found.append(f"{view} '{language}' window {start:.3f}-{start + clip:.3f} s is "
                         "outside that track's audio")
    return found


def collate_quadruplets(items: list[dict]) -> dict:
    """Stack items into the batch dict of the contract (``meta`` stays a list of dicts).
    Every video clip is already ``S x S`` (cut in its worker), so views stack as they are."""
    batch: dict = {"meta": [it["meta"] for it in items]}
    for key in ("video_p", "video_s", "audio_p", "audio_s"):
        if key in items[0]:
            batch[key] = _stack([it[key] for it in items])
    return batch


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack``; in a loader worker straight into shared memory, as PyTorch's own
    collate does, so the batch is not copied again on its way to the main process."""
    out = None
    if torch.utils.data.get_worker_info() is not None:
        first = tensors[0]
        storage = first._typed_storage()._new_shared(len(tensors) * first.numel(),
                                                     device=first.device)
        out = first.new(storage).resize_(len(tensors), *first.shape)
    return torch.stack(tensors, out=out)
