"""``dubclr embed``: every media file under a folder -> one embedding per window (and crop).

Video files give video windows (seconds, up to the last frame's timestamp) and, for the
tracks asked for, audio windows of their audio tracks; audio files give audio windows.
Sidecar tracks (``Movie.es.flac`` next to ``Movie.mkv``) are embedded as tracks of their
title, not as files of their own. Under torchrun each rank takes every world_size-th file.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from dubclr.errors import ConfigError
from dubclr.evaluate.embed_store import EmbedStore
from dubclr.evaluate.encoder import Encoder, load_encoder
from dubclr.evaluate.windows import audio_windows, video_windows
from dubclr.media import (
    AUDIO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    MediaError,
    probe,
    sidecar_paths,
)


@dataclass
class EmbedOptions:
    modalities: tuple[str, ...] = ("video", "audio")
    crops: str = "center"  # center | five
    tracks: str = "default"  # default | all (audio tracks of multi-track titles)
    batch_size: int = 16  # windows per forward pass
    flush_every: int = 16  # files per Parquet part
    precision: str = "auto"  # auto (fp16 autocast on CUDA, fp32 on CPU) | fp16 | fp32

    def __post_init__(self) -> None:
        if self.crops not in ("center", "five"):
            raise ConfigError(f"crops must be 'center' or 'five', got {self.crops!r}")
        if self.tracks not in ("default", "all"):
            raise ConfigError(f"tracks must be 'default' or 'all', got {self.tracks!r}")
        if self.precision not in ("auto", "fp16", "fp32"):
            raise ConfigError(f"precision must be auto, fp16 or fp32, got {self.precision!r}")
        if self.batch_size < 1 or self.flush_every < 1:
            raise ConfigError(f"batch_size (--batch-size) and flush_every must be >= 1, got "
                              f"{self.batch_size} and {self.flush_every}")


@dataclass
class EmbedSummary:
    files_seen: int = 0
    files_embedded: int = 0
    files_skipped: int = 0
    windows: dict[str, int] = field(default_factory=lambda: {"video": 0, "audio": 0})
    errors: dict[str, str] = field(default_factory=dict)
    files_empty: list[str] = field(default_factory=list)  # nothing to embed (no stream)
    seconds: float = 0.0
    table: str = ""
    metadata: str = ""


def find_media(root: str | Path) -> list[Path]:
    """Media files under ``root`` (recursively, sorted), without sidecar tracks."""
    root = Path(root)
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file()
                   and p.suffix.lower() in VIDEO_EXTENSIONS | AUDIO_EXTENSIONS)
    sidecars = {s for p in files if p.suffix.lower() in VIDEO_EXTENSIONS
                for _, s in sidecar_paths(p)}
    return [p for p in files if p not in sidecars]


def _batched(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def embed_video_file(encoder: Encoder, path: Path, batch_size: int) -> list[dict]:
    info = probe(path)
    if info.video is None:
        return []
    v, spec = info.video, encoder.video_spec
    last_pts = (v.num_frames - 1) / v.fps if v.num_frames > 0 else max(v.duration - 1 / v.fps, 0)
    spans = video_windows(last_pts, spec.clip_seconds)
    rows = []
    for chunk in _batched(list(enumerate(spans)), batch_size):
        # half a frame past the end, so the frame at `end` is included (as the reference does)
        clips = np.stack([encoder.read_video(path, s, (e - s) + 0.5 / v.fps)
                          for _, (s, e) in chunk])
        emb = encoder.video(clips).cpu().numpy()  # (B, crops, D)
        for (w, (s, e)), per_crop in zip(chunk, emb):
            for c, vec in enumerate(per_crop):  # one centre crop -> 0; five -> tl,tr,bl,br,c
                rows.append(dict(modality="video", track="", track_index=-1, default_track=True,
                                 window=w, start=float(s), end=float(e), crop=int(c),
                                 embedding=vec.astype(np.float32)))
    return rows


def embed_audio_file(encoder: Encoder, path: Path, tracks: str, batch_size: int) -> list[dict]:
    info = probe(path)
    chosen = [t for t in info.audio if tracks == "all" or t.default]
    if tracks != "all" and not chosen and info.audio:
        chosen = info.audio[:1]
    rows = []
    for track in chosen:
        n = round(track.duration * track.sample_rate)
        spans = audio_windows(n, track.sample_rate, encoder.audio_spec.clip_seconds)
        for chunk in _batched(list(enumerate(spans)), batch_size):
            waves = [encoder.read_audio(path, s / track.sample_rate,
                                        (e - s) / track.sample_rate, track=track)
                     for _, (s, e) in chunk]
            emb = encoder.audio(_stack_padded(waves)).cpu().numpy()
            for (w, (s, e)), vec in zip(chunk, emb):
                rows.append(dict(modality="audio", track=track.language,
                                 track_index=track.index, default_track=bool(track.default),
                                 window=w, start=s / track.sample_rate,
                                 end=e / track.sample_rate, crop=0,
                                 embedding=vec.astype(np.float32)))
    return rows


def _stack_padded(waves: list[np.ndarray]) -> torch.Tensor:
    """Windows of unequal length (a short file) -> ``(B, C, N)``, zero-padded at the end."""
    waves = [w[None] if w.ndim == 1 else w for w in waves]
    n = max(w.shape[-1] for w in waves)
    c = max(w.shape[0] for w in waves)
    out = np.zeros((len(waves), c, n), dtype=np.float32)
    for i, w in enumerate(waves):
        out[i, : w.shape[0], : w.shape[1]] = w
    return torch.from_numpy(out)


def embed_file(encoder: Encoder, path: Path, options: EmbedOptions,
               modalities: list[str]) -> list[dict]:
    """All rows of one file for the given modalities (without the ``file`` column)."""
    rows = []
    if "video" in modalities and path.suffix.lower() in VIDEO_EXTENSIONS:
        rows += embed_video_file(encoder, path, options.batch_size)
    if "audio" in modalities:
        rows += embed_audio_file(encoder, path, options.tracks, options.batch_size)
    return rows


def _applicable(path: Path, modalities: list[str]) -> list[str]:
    """Video windows come from video files only; audio from both kinds."""
    is_video = path.suffix.lower() in VIDEO_EXTENSIONS
    return [m for m in modalities if m == "audio" or is_video]


def _usable_modalities(encoder: Encoder, asked: tuple[str, ...]) -> list[str]:
    have = [m for m in ("video", "audio") if getattr(encoder, f"{m}_dim") is not None]
    mods = [m for m in asked if m in have]
    if not mods:
        from dubclr.errors import CheckpointError

        raise CheckpointError(f"the checkpoint has towers {have} but --modality asked for "
                              f"{list(asked)}; ask for one it has")
    return mods


def run_embed(checkpoint: str | Path, input_dir: str | Path, out_dir: str | Path,
              options: EmbedOptions | None = None, device: str = "auto",
              **authors) -> EmbedSummary:
    """Embed a folder, one process or one rank of a torchrun job.

    ``authors`` (``authors_config=`` or ``video_config=``/``audio_config=``) is needed
    only for an authors' checkpoint file.
    """
    from dubclr.progress import progress
    from dubclr.train import distributed as dist

    options = options or EmbedOptions()
    env = dist.setup(device)
    t0 = time.perf_counter()
    try:
        if options.precision == "fp16" and env.device.type != "cuda":
            raise ConfigError(f"--precision fp16 needs a CUDA device (this run is on "
                              f"{env.device}); use --precision fp32 or auto")
        half = None if options.precision == "auto" else options.precision == "fp16"
        encoder = load_encoder(checkpoint, device=str(env.device), crops=options.crops,
                               half=half, **authors)
        modalities = _usable_modalities(encoder, options.modalities)
        root = Path(input_dir)
        if not root.exists():
            raise MediaError(f"input folder not found: {root}")
        files = find_media(root)
        if not files:
            raise MediaError(f"no media files under {root} (looked for "
                             f"{', '.join(sorted(VIDEO_EXTENSIONS | AUDIO_EXTENSIONS))})")
        if Path(out_dir).exists() and not Path(out_dir).is_dir():
            raise ConfigError(f"--out {out_dir} is a file; give a folder for the embeddings")
        checkpoint = getattr(encoder.model, "source_dir", None) or checkpoint
        _check_same_setup(Path(out_dir), checkpoint, options)
        store = EmbedStore(out_dir, rank=env.rank)
        done = store.done()
        dist.barrier()  # every rank has read what is done before anyone writes
        summary = EmbedSummary(files_seen=len(files))
        mine = files[env.rank::env.world_size]
        since_flush = 0
        for path in progress(mine, desc=f"embed (rank {env.rank})" if env.distributed else "embed",
                             unit="file"):
            rel = path.relative_to(root).as_posix() if root.is_dir() else path.name
            applicable = _applicable(path, modalities)
            if not applicable:  # e.g. a WAV when only video is asked for: not "already done"
                continue
            todo = [m for m in applicable if (rel, m) not in done]
            if not todo:
                summary.files_skipped += 1
                continue
            try:
                rows = embed_file(encoder, path, options, todo)
            except MediaError as exc:  # a bad file is reported and the rest goes on
                summary.errors[rel] = str(exc)
                continue
            if not rows:
                summary.files_empty.append(rel)
                continue
            for r in rows:
                r["file"] = rel
                summary.windows[r["modality"]] += int(r["crop"] == 0)
            store.add(rows)
            summary.files_embedded += 1
            since_flush += 1
            if since_flush >= options.flush_every:
                store.flush()
                since_flush = 0
        store.flush()
        _write_errors(store, summary.errors)
        _sum_over_ranks(summary, dist)
        dist.barrier()
        summary.seconds = time.perf_counter() - t0
        if env.is_main:
            summary.errors = _read_errors(store)
            summary.table = str(store.merge())
            summary.metadata = str(store.write_metadata(_metadata(
                checkpoint, root, encoder, options, modalities, summary.errors)))
        return summary
    finally:
        dist.teardown()


def _check_same_setup(out_dir: Path, checkpoint, options: EmbedOptions) -> None:
    """Refuse to mix embeddings of another checkpoint or other settings in one table."""
    meta_path = out_dir / "metadata.json"
    if not meta_path.is_file():
        return
    old = json.loads(meta_path.read_text())
    now = {"checkpoint": str(Path(checkpoint).resolve()), "crops": options.crops,
           "tracks": options.tracks}
    was = {"checkpoint": old.get("checkpoint"), "crops": old.get("options", {}).get("crops"),
           "tracks": old.get("options", {}).get("tracks")}
    changed = [k for k in now if now[k] != was[k]]
    if changed:
        raise ConfigError(f"{out_dir} holds embeddings made with other settings "
                          f"({', '.join(f'{k}: {was[k]} -> {now[k]}' for k in changed)}); "
                          "use another --out folder, or delete it to start over")


def _sum_over_ranks(summary: EmbedSummary, dist) -> None:
    """Totals of every rank, so rank 0's summary speaks for the whole job."""
    counts = torch.tensor([summary.files_embedded, summary.files_skipped,
                           summary.windows["video"], summary.windows["audio"]], dtype=torch.int64)
    dist.all_reduce_sum(counts)
    summary.files_embedded, summary.files_skipped = int(counts[0]), int(counts[1])
    summary.windows = {"video": int(counts[2]), "audio": int(counts[3])}


def _write_errors(store: EmbedStore, errors: dict[str, str]) -> None:
    path = store.parts / f"errors-rank{store.rank}.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**old, **errors}, indent=1))


def _read_errors(store: EmbedStore) -> dict[str, str]:
    errors: dict[str, str] = {}
    for p in sorted(store.parts.glob("errors-rank*.json")):
        errors.update(json.loads(p.read_text()))
    return errors


def _metadata(checkpoint, root, encoder: Encoder, options: EmbedOptions, modalities,
              errors) -> dict:
    import dubclr

    return {
        "format": "dubclr-embeddings", "version": 1,
        "checkpoint": str(Path(checkpoint).resolve()), "input": str(Path(root).resolve()),
        "modalities": modalities, "options": asdict(options),
        "embedding_dim": {"video": encoder.video_dim, "audio": encoder.audio_dim},
        "video_frontend": asdict(encoder.video_spec) if encoder.video_spec else None,
        "audio_frontend": asdict(encoder.audio_spec) if encoder.audio_spec else None,
        "half_precision": encoder.half, "dubclr_version": dubclr.__version__,
        "torch_version": torch.__version__, "host": platform.node(),
        "errors": errors,
    }
