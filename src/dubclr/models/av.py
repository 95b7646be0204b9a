"""The two-tower audiovisual model: backbones for features, heads for training."""

from __future__ import annotations

import torch
from torch import nn

from dubclr.models.config import AudioTowerConfig, ModelConfig, VideoTowerConfig
from dubclr.models.heads import ProjectionHead


def build_video_tower(cfg: VideoTowerConfig) -> nn.Module:
    """A video backbone with an ``out_dim`` attribute; forward (B,3,T,H,W) -> (B, out_dim)."""
    if cfg.arch == "mvit":
        from dubclr.models.mvit import build_video_mvit

        return build_video_mvit(cfg)
    if cfg.arch == "x3d":
        from dubclr.models.x3d import build_x3d

        return build_x3d(cfg)
    raise ValueError(f"unknown video arch {cfg.arch!r}")


def build_audio_tower(cfg: AudioTowerConfig) -> nn.Module:
    """An audio backbone with an ``out_dim`` attribute; forward (B,C,F,T) -> (B, out_dim)."""
    if cfg.arch == "mvit":
        from dubclr.models.mvit import build_audio_mvit

        return build_audio_mvit(cfg)
    if cfg.arch == "resnet_audio":
        from dubclr.models.resnet_audio import build_resnet_audio

        return build_resnet_audio(cfg)
    raise ValueError(f"unknown audio arch {cfg.arch!r}")


class AVModel(nn.Module):
    """Video and audio towers (either may be absent) with optional projection heads.

    ``embed_*`` gives pooled backbone features (for evaluation); ``project_*`` gives the
    L2-normalised projections the contrastive loss uses.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.video = build_video_tower(config.video) if config.video is not None else None
        self.audio = build_audio_tower(config.audio) if config.audio is not None else None
        head = config.head
        self.video_head = (
            ProjectionHead(self.video.out_dim, head.hidden_dim, head.out_dim)
            if head is not None and self.video is not None else None
        )
        self.audio_head = (
            ProjectionHead(self.audio.out_dim, head.hidden_dim, head.out_dim)
            if head is not None and self.audio is not None else None
        )

    @property
    def video_dim(self) -> int | None:
        return None if self.video is None else self.video.out_dim

    @property
    def audio_dim(self) -> int | None:
        return None if self.audio is None else self.audio.out_dim

    def embed_video(self, video: torch.Tensor) -> torch.Tensor:
        if self.video is None:
            raise RuntimeError("this model has no video tower")
        return self.video(video)

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        if self.audio is None:
            raise RuntimeError("this model has no audio tower")
        return self.audio(audio)

    def project_video(self, video: torch.Tensor) -> torch.Tensor:
        if self.video_head is None:
            raise RuntimeError("this model has no video projection head")
        return self.video_head(self.embed_video(video))

    def project_audio(self, audio: torch.Tensor) -> torch.Tensor:
        if self.audio_head is None:
            raise RuntimeError("this model has no audio projection head")
        return self.audio_head(self.embed_audio(audio))

    def forward(self, video: torch.Tensor | None = None,
                audio: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        if video is not None:
            out["video"] = self.project_video(video)
        if audio is not None:
            out["audio"] = self.project_audio(audio)
        return out


def build_model(config: ModelConfig) -> AVModel:
    return AVModel(config)
