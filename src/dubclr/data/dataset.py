"""Quadruplets (v_p, a_p, v_s, a_s) from one shot, decoded in DataLoader workers.

Each item gets two independent ``clip_seconds`` windows inside its shot (temporal jitter):
the primary window carries the title's original language, the secondary window the
language the dub policy picks. All random choices come from the item's entropy (seed,
epoch, batch, rank, slot), never from worker state, so a resumed run decodes the same clips.
A clip that fails to decode is replaced by another shot of the same title (then, if the
title has none left, of another title), up to ``max_retries`` times each.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from dubclr.data.catalog import ShotRecord
from dubclr.data.config import DataConfig
from dubclr.data.sampler import BatchItem
from dubclr.errors import DubclrError
from dubclr.media import MediaError, read_audio, read_video

log = logging.getLogger("dubclr.data")


class ClipLoadError(DubclrError):
    """Every replacement for a clip failed to decode: the media behind the catalog is broken."""


class QuadrupletDataset(torch.utils.data.Dataset):
    """Map-style dataset indexed by :class:`BatchItem` (from the sampler)."""

    def __init__(self, shots: list[ShotRecord], cfg: DataConfig) -> None:
        self.shots = shots
        self.cfg = cfg
        self.policy = cfg.dub_policy
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
        clip = cfg.clip_seconds
        t_p, t_s = self._window(shot, rng), self._window(shot, rng)
        lang_p = shot.original_language if shot.original_language in shot.languages else (
            shot.languages[0] if shot.languages else "und")
        lang_s = self.policy.secondary_language(lang_p, list(shot.languages), batch, rng)
        views = self.policy.views
        out: dict = {}
        if "video_p" in views:
            out["video_p"] = self._video(shot, t_p)
            out["video_s"] = self._video(shot, t_s)
        if self.policy.needs_separated:
            out["audio_p"] = self._audio(shot.separated, t_p, None)
            lang_p = "separated"
        else:
            out["audio_p"] = self._audio(shot.path, t_p, shot.track_for(lang_p) if shot.languages else None)
        if "audio_s" in views:
            out["audio_s"] = self._audio(shot.path, t_s, shot.track_for(lang_s) if shot.languages else None)
        out["meta"] = {"title": shot.title, "shot": shot.index, "shot_id": shot.shot_id,
                       "t_p": t_p, "t_s": t_s, "lang_p": lang_p,
                       "lang_s": lang_s, "clip_seconds": clip}
        return out

    def _window(self, shot: ShotRecord, rng: np.random.Generator) -> float:
        slack = max(shot.length - self.cfg.clip_seconds, 0.0)
        return round(shot.start + float(rng.uniform(0.0, slack)), 4) if slack > 0 else shot.start

    def _video(self, shot: ShotRecord, start: float) -> torch.Tensor:
        frames = read_video(shot.path, start, self.cfg.clip_seconds, fps=self.cfg.video.fps,
                            num_frames=self.cfg.video.num_frames)  # (T, H, W, 3)
        return torch.from_numpy(np.ascontiguousarray(frames.transpose(3, 0, 1, 2)))

    def _audio(self, path: str, start: float, track: int | None) -> torch.Tensor:
        channels = self.cfg.audio.channels
        wave = read_audio(path, start, self.cfg.clip_seconds, track=track,
                          sample_rate=self.cfg.audio.sample_rate, mono=channels == 1)
        wave = wave[None] if wave.ndim == 1 else wave
        if wave.shape[0] != channels:
            wave = np.repeat(wave[:1], 2, axis=0) if wave.shape[0] == 1 else wave[:2]
        return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))


def collate_quadruplets(items: list[dict]) -> dict:
    """Stack items into the batch dict of the contract (``meta`` stays a list of dicts)."""
    batch: dict = {"meta": [it["meta"] for it in items]}
    for key in ("video_p", "video_s"):
        if key in items[0]:
            batch[key] = stack_videos([it[key] for it in items])
    for key in ("audio_p", "audio_s"):
        if key in items[0]:
            batch[key] = torch.stack([it[key] for it in items])
    return batch


def stack_videos(clips: list[torch.Tensor]) -> torch.Tensor:
    """Stack uint8 ``(3, T, H, W)`` clips; titles of another frame size are scaled to cover
    the first clip's size and centre-cropped (aspect kept)."""
    height, width = clips[0].shape[-2:]
    fitted = [c if c.shape[-2:] == (height, width) else _cover(c, height, width) for c in clips]
    return torch.stack(fitted)


def _cover(clip: torch.Tensor, height: int, width: int) -> torch.Tensor:
    h, w = clip.shape[-2:]
    scale = max(height / h, width / w)
    size = (max(height, round(h * scale)), max(width, round(w * scale)))
    x = F.interpolate(clip.permute(1, 0, 2, 3).float(), size=size, mode="bilinear",
                      align_corners=False, antialias=True)
    top, left = (size[0] - height) // 2, (size[1] - width) // 2
    x = x[..., top:top + height, left:left + width]
    return x.round().clamp(0, 255).to(torch.uint8).permute(1, 0, 2, 3).contiguous()
