"""A frozen model plus the evaluation front-ends that feed it, and the reads that feed them.

The front-end settings travel with the weights: ``dubclr train`` records its data
settings in every checkpoint's provenance (``provenance["data"]``, written by
:meth:`dubclr.data.config.DataConfig.preprocessing`: clip seconds, fps, frames, eval short
side, crop, sample rate, channels, n_fft, hop, mel bins and frames), and the encoder builds
its decoding (:meth:`Encoder.read_video`, :meth:`Encoder.read_audio`) and transforms from
them. A checkpoint without them (the authors' release, or one written before they were
recorded, which gets a warning) falls back to what the tower's input size implies: for the
released 96 x 288 audio towers the authors' pipeline (hop 501 over 3 s); a tower with
``F x T`` mel input gets ``F`` bins and the hop that spreads ``T`` frames over the clip.
Video: the tower's frames at 25 fps, short side ``round(crop * 256 / 224)``, centre or five
crops. Audio is folded to the tower's channels by the one downmix.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dubclr.data.transforms import AudioFrontend, VideoTransform
from dubclr.errors import CheckpointError

AUTHORS_SOURCE = "authors-release"  # converted released weights: the authors' pipeline

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
    rate = int(recorded.get("sample_rate", SAMPLE_RATE))
    frames = int(tower_cfg.mel_frames)
    default_hop = int(clip * rate) // max(frames - 1, 1)
    return AudioSpec(
        sample_rate=rate,
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
        data = recorded_preprocessing(provenance, model)
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

    def read_video(self, path: str | Path, start: float, duration: float) -> np.ndarray:
        """uint8 ``(T, H, W, 3)`` of a window as the model was trained to see it: its fps and
        frames, scaled in the decoder to its evaluation short side (the transform crops)."""
        from dubclr.media import read_video

        s = self.video_spec
        return read_video(path, start, duration, fps=s.fps, num_frames=s.num_frames,
                          short_side=s.short_side)

    def read_audio(self, path: str | Path, start: float, duration: float,
                   track=None) -> np.ndarray:
        """float32 ``(C, N)`` of a window at the model's sample rate, folded to its channels
        by the one downmix (a 5.1 track keeps its centre dialogue)."""
        from dubclr.media import read_audio

        s = self.audio_spec
        return read_audio(path, start, duration, track=track, sample_rate=s.sample_rate,
                          channels=s.channels)

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
        """Waveforms ``(B, N)`` or ``(B, C, N)`` at ``audio_spec.sample_rate`` (any channel
        count: folded by the one downmix) -> float32 ``(B, D)`` on the device."""
        return self.audio_from_mel(self.mel(waves))

    @torch.inference_mode()
    def mel(self, waves: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The audio tower's input: log-mel ``(B, C, n_mels, frames)`` of waveforms as
        :meth:`audio` takes them (fixed by ``audio_spec``: no weights, no randomness)."""
        if self.audio_frontend is None:
            raise CheckpointError("this checkpoint has no audio tower; use --modality video")
        x = torch.as_tensor(waves, dtype=torch.float32).to(self.device)
        if x.dim() == 2:
            x = x[:, None]
        return self.audio_frontend(x)

    @torch.inference_mode()
    def audio_from_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel from :meth:`mel` -> float32 ``(B, D)``."""
        with self._autocast():
            return self.model.embed_audio(mel.to(self.device)).float()

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


def recorded_preprocessing(provenance: dict | None, model) -> dict:
    """The data settings a checkpoint was trained with (``provenance["data"]``); ``{}``
    with a warning for a dubclr checkpoint that has none (defaults are then a guess)."""
    provenance = provenance or {}
    data = provenance.get("data")
    if data:
        return data
    if provenance.get("source") != AUTHORS_SOURCE:
        warnings.warn("this checkpoint records no preprocessing (written before dubclr stored "
                      "its training data settings): evaluating with the defaults its towers "
                      "imply (3 s clips, 25 fps, 48 kHz, hop from the mel frames). If it was "
                      "trained otherwise, its embeddings will be off", stacklevel=3)
    return {}


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
