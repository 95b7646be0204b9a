"""Per-shot embeddings of the synthetic corpus, the raw material of the toy benchmark.

One 3 s clip per shot, from the shot's start (shorter shots give shorter clips, which the
front-ends pad): the video clip, and the audio clip of every language track of the title.
Backbone features are kept for probes; projections (when the model has heads) for
retrieval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dubclr.evaluate.encoder import Encoder
from dubclr.media import probe
from dubclr.progress import progress


@dataclass
class Shot:
    title: str
    index: int
    file: Path
    start: float
    end: float
    scene: str
    sound: str
    n_speakers: int
    original_language: str
    languages: list[str]

    @property
    def key(self) -> str:
        return f"{self.title}/{self.index}"


@dataclass
class ShotEmbeddings:
    video: dict[str, np.ndarray] = field(default_factory=dict)  # key -> (D,)
    audio: dict[str, np.ndarray] = field(default_factory=dict)  # "key#lang" -> (D,)
    video_proj: dict[str, np.ndarray] = field(default_factory=dict)
    audio_proj: dict[str, np.ndarray] = field(default_factory=dict)


def read_corpus(corpus_dir: str | Path) -> tuple[dict, list[Shot]]:
    """labels.json and its shots, with the language tracks each title really has."""
    corpus_dir = Path(corpus_dir)
    labels_path = corpus_dir / "labels.json"
    if not labels_path.is_file():
        from dubclr.errors import DubclrError

        raise DubclrError(f"{labels_path} not found; build a corpus with `dubclr synth corpus OUT`")
    labels = json.loads(labels_path.read_text())
    shots = []
    for title in labels["titles"]:
        path = corpus_dir / title["file"]
        languages = [t for t in probe(path).languages if t != "und"]
        for s in title["shots"]:
            shots.append(Shot(title["id"], int(s["index"]), path, float(s["start"]),
                              float(s["end"]), str(s["scene"]), str(s["sound"]),
                              len(set(s.get("speakers", []))),
                              title.get("original_language", "en"), languages))
    return labels, shots


class ClipInputs:
    """Model inputs of shot clips, made once and kept: the uint8 video clip and the log-mel
    of each audio track, keyed by the preprocessing that made them (an encoder's
    ``video_spec`` / ``audio_spec``). Evaluating several checkpoints trained alike (the
    controlled study's runs) through one ``ClipInputs`` decodes every clip once."""

    def __init__(self) -> None:
        self._video: dict[tuple, np.ndarray] = {}
        self._mel: dict[tuple, torch.Tensor] = {}

    def video(self, encoder: Encoder, chunk, clip_seconds: float) -> np.ndarray:
        """uint8 ``(B, T, H, W, 3)``."""
        spec = encoder.video_spec
        out = []
        for _, s, _ in chunk:
            key = (spec, str(s.file), s.start, min(clip_seconds, s.end - s.start))
            if key not in self._video:
                self._video[key] = encoder.read_video(s.file, s.start, key[3])
            out.append(self._video[key])
        return np.stack(out)

    def mel(self, encoder: Encoder, chunk, clip_seconds: float) -> torch.Tensor:
        """Log-mel ``(B, C, n_mels, frames)`` of each (shot, language) of the chunk."""
        spec = encoder.audio_spec
        keys = [(spec, str(s.file), s.start, min(clip_seconds, s.end - s.start), lang)
                for _, s, lang in chunk]
        missing = [(k, s) for k, (_, s, _) in zip(keys, chunk) if k not in self._mel]
        if missing:
            count = round(clip_seconds * spec.sample_rate)
            waves = np.zeros((len(missing), spec.channels, count), dtype=np.float32)
            for j, (key, s) in enumerate(missing):
                w = encoder.read_audio(s.file, s.start, key[3], track=key[4])
                waves[j, :, : w.shape[1]] = w[:, :count]
            for (key, _), mel in zip(missing, encoder.mel(torch.from_numpy(waves)).cpu()):
                self._mel[key] = mel
        return torch.stack([self._mel[k] for k in keys])


def embed_shots(encoder: Encoder, shots: list[Shot], clip_seconds: float = 3.0,
                batch_size: int = 16, desc: str = "embed shots",
                inputs: ClipInputs | None = None) -> ShotEmbeddings:
    """Backbone features (and projections) of every shot's video and language tracks;
    `inputs` keeps the decoded clips for the next checkpoint (default: a fresh one)."""
    out = ShotEmbeddings()
    model = encoder.model
    inputs = inputs if inputs is not None else ClipInputs()
    jobs: list[tuple[str, Shot, str | None]] = []
    for shot in shots:
        if encoder.video_dim is not None:
            jobs.append(("video", shot, None))
        if encoder.audio_dim is not None:
            jobs += [("audio", shot, lang) for lang in shot.languages]
    bar = progress(total=len(jobs), desc=desc, unit="clip", leave=False)
    for modality in ("video", "audio"):
        mine = [j for j in jobs if j[0] == modality]
        for i in range(0, len(mine), batch_size):
            chunk = mine[i:i + batch_size]
            if modality == "video":  # average over crops
                feats = encoder.video(inputs.video(encoder, chunk, clip_seconds)).mean(dim=1)
            else:
                feats = encoder.audio_from_mel(inputs.mel(encoder, chunk, clip_seconds))
            head = model.video_head if modality == "video" else model.audio_head
            proj = _project(head, feats)
            for j, (_, shot, lang) in enumerate(chunk):
                key = shot.key if lang is None else f"{shot.key}#{lang}"
                getattr(out, modality)[key] = feats[j].cpu().numpy()
                if proj is not None:
                    getattr(out, f"{modality}_proj")[key] = proj[j].cpu().numpy()
            bar.update(len(chunk))
    bar.close()
    return out


@torch.inference_mode()
def _project(head, feats: torch.Tensor) -> torch.Tensor | None:
    if head is None:
        return None
    return head.eval()(feats)
