"""Device-side transforms: uint8 video -> float crops, waveform -> log-mel dB.

They run batched on the training device (decoding stays in the DataLoader workers); in
training, :class:`ViewTransforms` applies them to a batch's views with its own
``torch.Generator`` (part of a run's saved state), never the global RNG. The audio front-end reproduces torchaudio's MelSpectrogram + AmplitudeToDB defaults as the
authors used them (``tests/fixtures/mvit_parity/README.md``, "Audio front-end") with plain
``torch.stft``; the video path reproduces pytorchvideo's ShortSideScale and torchvision's
crops ("Video front-end").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from dubclr.data.config import DataConfig


def hz_to_mel(freq: torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + freq / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular HTK filters without area normalisation, shape ``(n_freqs, n_mels)``."""
    f_max = sample_rate / 2 if f_max is None else f_max
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(float(hz_to_mel(torch.tensor(f_min))),
                           float(hz_to_mel(torch.tensor(f_max))), n_mels + 2)
    f_pts = mel_to_hz(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


def center_crop_pad(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """torchvision-style CenterCrop on the last two axes: zero-pad when smaller, then crop."""
    h, w = x.shape[-2:]
    if h < height or w < width:
        pad_w, pad_h = max(width - w, 0), max(height - h, 0)
        x = F.pad(x, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2))
        h, w = x.shape[-2:]
    top = int(round((h - height) / 2.0))
    left = int(round((w - width) / 2.0))
    return x[..., top:top + height, left:left + width]


class AudioFrontend(nn.Module):
    """Waveform ``(B, C, N)`` at 48 kHz -> log-mel dB ``(B, channels, n_mels, frames)``.

    The waveform is trimmed / zero-padded to ``clip_seconds`` first (the reference keeps
    the first 3 s). Any other channel count is folded to ``channels`` by the one downmix
    (:func:`dubclr.media.channels.downmix`: 5.1 keeps its centre dialogue; mono is
    duplicated for 2), as the loader and ``read_audio(channels=)`` fold. In training mode (``train=True``) every example gets one frequency and one time
    mask, each up to ``max_mask_fraction`` of its axis, filled with ``mask_value``.
    """

    def __init__(self, sample_rate: int = 48000, n_fft: int = 1024, hop_length: int = 501,
                 n_mels: int = 96, frames: int = 288, clip_seconds: float | None = 3.0,
                 channels: int = 1, train: bool = False, max_mask_fraction: float = 0.5,
                 mask_value: float = 0.0) -> None:
        super().__init__()
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.n_mels, self.frames, self.channels = n_mels, frames, channels
        self.clip_samples = None if clip_seconds is None else round(clip_seconds * sample_rate)
        self.train_mode, self.max_mask_fraction, self.mask_value = train, max_mask_fraction, mask_value
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("mel_fb", mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate),
                             persistent=False)

    def forward(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if wave.dim() != 3:
            raise ValueError(f"expected a waveform (B, C, N), got shape {tuple(wave.shape)}")
        # imported here: `import dubclr.hear` stays free of the decoding stack (dubclr.media)
        from dubclr.media.channels import downmix

        wave = downmix(wave.float(), self.channels)
        if self.clip_samples is not None:
            wave = _trim_or_pad(wave, self.clip_samples)
        b, c, n = wave.shape
        spec = torch.stft(wave.reshape(b * c, n), self.n_fft, hop_length=self.hop_length,
                          window=self.window, center=True, pad_mode="reflect",
                          normalized=False, onesided=True, return_complex=True)
        power = spec.abs().pow(2.0)  # (BC, freqs, frames), as torchaudio computes it
        mel = torch.matmul(power.transpose(1, 2), self.mel_fb).transpose(1, 2)
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        db = center_crop_pad(db.reshape(b, c, self.n_mels, -1), self.n_mels, self.frames)
        if self.train_mode and self.max_mask_fraction > 0:
            db = self._mask(db, generator)
        return db

    def _mask(self, db: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        b, _, n_freq, n_time = db.shape
        dev = db.device
        out = db.clone()
        for axis, length in ((2, n_freq), (3, n_time)):
            max_width = int(self.max_mask_fraction * length)
            widths = torch.randint(0, max_width + 1, (b,), generator=generator, device="cpu")
            starts = (torch.rand(b, generator=generator, device="cpu")
                      * (length - widths + 1)).long()
            pos = torch.arange(length, device=dev)
            masked = (pos[None] >= starts.to(dev)[:, None]) & (pos[None] < (starts + widths).to(dev)[:, None])
            shape = (b, 1, length, 1) if axis == 2 else (b, 1, 1, length)
            out = out.masked_fill(masked.view(shape), self.mask_value)
        return out


def _trim_or_pad(wave: torch.Tensor, samples: int) -> torch.Tensor:
    n = wave.shape[-1]
    if n >= samples:
        return wave[..., :samples]
    return F.pad(wave, (0, samples - n))


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """pytorchvideo ShortSideScale's output size (floored long side)."""
    if width < height:
        return int(math.floor(height / width * short_side)), short_side
    return short_side, int(math.floor(width / height * short_side))


def scale_short_side(clip: torch.Tensor, short_side: int) -> torch.Tensor:
    """Bilinear resize of a float ``(C, T, H, W)`` clip so its short side is ``short_side``."""
    h, w = clip.shape[-2:]
    size = short_side_size(h, w, short_side)
    if size == (h, w):
        return clip
    return F.interpolate(clip, size=size, mode="bilinear", align_corners=False, antialias=False)


def five_crop_offsets(height: int, width: int, crop: int) -> list[tuple[int, int]]:
    """(top, left) of the tl, tr, bl, br and center crops, torchvision's order and rounding."""
    center = (int(round((height - crop) / 2.0)), int(round((width - crop) / 2.0)))
    return [(0, 0), (0, width - crop), (height - crop, 0), (height - crop, width - crop), center]


class VideoTransform(nn.Module):
    """uint8 ``(B, 3, T, H, W)`` -> float in [0, 1].

    Train: per example, a random short side in ``train_scale`` then a random ``crop``
    square -> ``(B, 3, T, crop, crop)``. Eval: short side ``eval_short_side`` then the centre
    crop -> ``(B, 3, T, crop, crop)``, or ``crops="five"`` -> ``(B, 5, 3, T, crop, crop)``.
    No mean/std normalisation (the MViT stem BatchNorm does it).
    """

    def __init__(self, train: bool = False, train_scale: tuple[int, int] = (256, 320),
                 crop: int = 224, eval_short_side: int = 256, crops: str = "center") -> None:
        super().__init__()
        if crops not in ("center", "five"):
            raise ValueError(f"crops must be 'center' or 'five', got {crops!r}")
        self.train_mode, self.train_scale, self.crop = train, tuple(train_scale), crop
        self.eval_short_side, self.crops = eval_short_side, crops

    def forward(self, video: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if video.dim() != 5 or video.shape[1] != 3:
            raise ValueError(f"expected video (B, 3, T, H, W), got shape {tuple(video.shape)}")
        x = video.float() / 255.0 if video.dtype == torch.uint8 else video.float()
        if self.train_mode:
            return torch.stack([self._random_crop(clip, generator) for clip in x])
        scaled = scale_short_side_batch(x, self.eval_short_side)
        h, w = scaled.shape[-2:]
        offsets = five_crop_offsets(h, w, self.crop)
        if self.crops == "center":
            top, left = offsets[-1]
            return scaled[..., top:top + self.crop, left:left + self.crop]
        return torch.stack([scaled[..., t:t + self.crop, s:s + self.crop] for t, s in offsets], dim=1)

    def _random_crop(self, clip: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        lo, hi = self.train_scale
        side = int(torch.randint(lo, hi + 1, (1,), generator=generator))
        scaled = scale_short_side(clip, side)
        h, w = scaled.shape[-2:]
        top = int(torch.randint(0, h - self.crop + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - self.crop + 1, (1,), generator=generator))
        return scaled[..., top:top + self.crop, left:left + self.crop]


def scale_short_side_batch(x: torch.Tensor, short_side: int) -> torch.Tensor:
    """:func:`scale_short_side` for ``(B, C, T, H, W)``."""
    b, c, t, h, w = x.shape
    out = scale_short_side(x.reshape(b * c, t, h, w), short_side)
    return out.reshape(b, c, t, *out.shape[-2:])


def build_transforms(cfg: DataConfig, train: bool) -> tuple[VideoTransform, AudioFrontend]:
    """The video and audio transforms a DataConfig describes."""
    v, a = cfg.video, cfg.audio
    video_tf = VideoTransform(train=train, train_scale=tuple(v.train_scale), crop=v.crop,
                              eval_short_side=v.eval_short_side, crops=v.eval_crops)
    audio_tf = AudioFrontend(sample_rate=a.sample_rate, n_fft=a.n_fft, hop_length=a.hop_length,
                             n_mels=a.n_mels, frames=a.frames, clip_seconds=cfg.clip_seconds,
                             channels=a.channels, train=train,
                             max_mask_fraction=a.max_mask_fraction, mask_value=a.mask_value)
    return video_tf, audio_tf


def seeded_generator(*entropy: int) -> torch.Generator:
    """A CPU generator seeded from several integers (a seed, an epoch, a rank...)."""
    seed = np.random.SeedSequence([x % 2**64 for x in entropy]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(seed) >> 1)


class ViewTransforms:
    """The training transforms of a batch's views, drawing from their own generator.

    ``video_*`` views go through ``video``, ``audio_*`` views through ``audio`` (None: as
    they are). The generator is part of the run state, so a resumed run draws the same
    crops and masks."""

    def __init__(self, video: nn.Module | None = None, audio: nn.Module | None = None,
                 generator: torch.Generator | None = None) -> None:
        self.video, self.audio = video, audio
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)

    def __call__(self, view: str, x: torch.Tensor) -> torch.Tensor:
        transform = self.video if view.startswith("video") else self.audio
        return x if transform is None else transform(x, generator=self.generator)

    def to(self, device: torch.device) -> ViewTransforms:
        for transform in (self.video, self.audio):
            if transform is not None:
                transform.to(device)
        return self

    def with_generator(self, generator: torch.Generator) -> ViewTransforms:
        """The same transforms drawing from another generator (this one is left alone)."""
        return ViewTransforms(self.video, self.audio, generator)
