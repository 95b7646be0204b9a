"""A frozen model plus the evaluation front-ends that feed it.

The front-end settings come from the checkpoint: the training data config recorded in
``model.json`` provenance (``provenance["data"]["audio" | "video"]``) when present, else
what the tower's input size implies. For the released 96 x 288 audio towers this is the
authors' pipeline (hop 501 over 3 s); a tower with ``F x T`` mel input gets ``F`` bins and
the hop that spreads ``T`` frames over the clip. Video: 16 (or the tower's) frames at
25 fps, short side ``round(crop * 256 / 224)``, centre or five crops.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dubclr.data.transforms import AudioFrontend, VideoTransform
from dubclr.errors import CheckpointError

CLIP_SECONDS = 3.0
SAMPLE_RATE = 48000


@dataclass(frozen=True)
class AudioSpec:
    sample_rate: int = SAMPLE_RATE
    n_fft: int = 1024
    hop_length: int = 501
    n_mels: int = 96
    frames: int = 288
    channels: int = 1
    clip_seconds: float = CLIP_SECONDS


@dataclass(frozen=True)
class VideoSpec:
    fps: float = 25.0
    num_frames: int = 16
    crop: int = 224
    short_side: int = 256
    clip_seconds: float = CLIP_SECONDS


def audio_spec_for(tower_cfg, recorded: dict | None = None) -> AudioSpec:
    recorded = recorded or {}
    clip = float(recorded.get("clip_seconds", CLIP_SECONDS))
    frames = int(tower_cfg.mel_frames)
    default_hop = int(clip * SAMPLE_RATE) // max(frames - 1, 1)
    return AudioSpec(
        sample_rate=int(recorded.get("sample_rate", SAMPLE_RATE)),
        n_fft=int(recorded.get("n_fft", 1024)),
        hop_length=int(recorded.get("hop_length", default_hop)),
        n_mels=int(tower_cfg.mel_bins), frames=frames, channels=int(tower_cfg.channels),
        clip_seconds=clip)


def video_spec_for(tower_cfg, recorded: dict | None = None) -> VideoSpec:
    recorded = recorded or {}
    crop = int(tower_cfg.crop)
    return VideoSpec(
        fps=float(recorded.get("fps", 25.0)), num_frames=int(tower_cfg.frames), crop=crop,
        short_side=int(recorded.get("eval_short_side", round(crop * 256 / 224))),
        clip_seconds=float(recorded.get("clip_seconds", CLIP_SECONDS)))


class Encoder:
    """Turns decoded clips into embeddings with one model on one device."""

    def __init__(self, model, device: str | torch.device = "cpu", crops: str = "center",
                 provenance: dict | None = None, half: bool | None = None) -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.half = self.device.type == "cuda" if half is None else half
        data = (provenance or {}).get("data") or {}
        clip = data.get("clip_seconds")
        cfg = model.config
        self.audio_spec = self.video_spec = None
        self.audio_frontend = self.video_transform = None
        if model.audio is not None:
            rec = dict(data.get("audio") or {}, **({"clip_seconds": clip} if clip else {}))
            s = self.audio_spec = audio_spec_for(cfg.audio, rec)
            self.audio_frontend = AudioFrontend(
                sample_rate=s.sample_rate, n_fft=s.n_fft, hop_length=s.hop_length,
                n_mels=s.n_mels, frames=s.frames, clip_seconds=s.clip_seconds,
                channels=s.channels, train=False).to(self.device)
        if model.video is not None:
            rec = dict(data.get("video") or {}, **({"clip_seconds": clip} if clip else {}))
            s = self.video_spec = video_spec_for(cfg.video, rec)
            self.video_transform = VideoTransform(
                train=False, crop=s.crop, eval_short_side=s.short_side,
                crops="five" if crops == "five" else "center")
        self.crops = crops

    @property
    def audio_dim(self) -> int | None:
        return self.model.audio_dim

    @property
    def video_dim(self) -> int | None:
        return self.model.video_dim

    def _autocast(self):
        if self.half and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return nullcontext()

    @torch.inference_mode()
    def audio(self, waves: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Waveforms ``(B, N)`` or ``(B, C, N)`` at 48 kHz -> float32 ``(B, D)`` on the device."""
        if self.audio_frontend is None:
            raise CheckpointError("this checkpoint has no audio tower; use --modality video")
        x = torch.as_tensor(waves, dtype=torch.float32).to(self.device)
        if x.dim() == 2:
            x = x[:, None]
        mel = self.audio_frontend(x)
        with self._autocast():
            return self.model.embed_audio(mel).float()

    @torch.inference_mode()
    def video(self, clips: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 ``(B, T, H, W, 3)`` -> float32 ``(B, crops, D)`` on the device."""
        if self.video_transform is None:
            raise CheckpointError("this checkpoint has no video tower; use --modality audio")
        x = torch.as_tensor(clips).to(self.device).permute(0, 4, 1, 2, 3)  # (B, 3, T, H, W)
        x = self.video_transform(x)
        five = x.dim() == 6
        if five:
            b, n = x.shape[:2]
            x = x.reshape(b * n, *x.shape[2:])
        with self._autocast():
            out = self.model.embed_video(x).float()
        return out.reshape(b, n, -1) if five else out[:, None]


def load_encoder(checkpoint: str | Path, device: str = "cpu", crops: str = "center",
                 half: bool | None = None, **authors) -> Encoder:
    """Load any checkpoint ``load_model`` reads (ours, a training step, the authors').

    ``authors`` is passed on for an authors' file (``authors_config=`` release YAML, or
    ``video_config=`` / ``audio_config=``, ``trust_pickle=``).
    """
    from dubclr.models.checkpoint import load_model

    path = Path(checkpoint)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    model = load_model(path, map_location="cpu", **authors)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return Encoder(model, device=device, crops=crops, half=half,
                   provenance=getattr(model, "provenance", None))
