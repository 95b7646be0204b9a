"""The HEAR 2021 API for a dubclr audio tower (``hear-validator dubclr.hear -m CKPT``).

Scene embeddings cut each sound into 3 s windows with the same tail rule as
``dubclr embed`` and average the window embeddings. Timestamp embeddings centre a 3 s
window (zero-padded past either end) on every multiple of 50 ms inside the sound; the
hop is exactly 2400 samples at 48 kHz, so timestamps never drift.

Inputs are mono float waveforms ``(n_sounds, n_samples)`` at ``model.sample_rate`` (the
rate the checkpoint was trained at; 48 kHz for every released and toy model) in [-1, 1]: a
torch tensor or a NumPy array (moved to the model's device, as float32). Integer PCM, NaN
or infinite samples are refused with the expected form named. Two-channel
(controlled-study) towers get the mono signal duplicated by the one downmix the loader and
``dubclr embed`` use; the clip length and mel settings are the checkpoint's.
"""

from __future__ import annotations

import torch
from torch import nn

from dubclr.errors import CheckpointError
from dubclr.evaluate.encoder import SAMPLE_RATE, Encoder, load_encoder
from dubclr.evaluate.windows import audio_windows

sample_rate = SAMPLE_RATE
HOP_MS = 50.0
BATCH = 64  # windows per forward pass


class HearModel(nn.Module):
    """What ``load_model`` returns: an ``nn.Module`` with the attributes HEAR asks for."""

    sample_rate = SAMPLE_RATE

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        if encoder.audio_dim is None:
            raise CheckpointError("this checkpoint has no audio tower, so it has no HEAR "
                                  "embeddings; pass a checkpoint with an audio tower")
        self.encoder = encoder
        self.sample_rate = encoder.audio_spec.sample_rate
        self.model = encoder.model  # registered, so .to(device) moves the weights
        self.audio_frontend = encoder.audio_frontend
        self.scene_embedding_size = int(encoder.audio_dim)
        self.timestamp_embedding_size = int(encoder.audio_dim)

    @property
    def clip_samples(self) -> int:
        return round(self.encoder.audio_spec.clip_seconds * self.sample_rate)

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def embed_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """``(W, clip_samples)`` -> ``(W, D)`` float32, in batches."""
        self.encoder.device = self._device()  # follow .to(device) calls
        outs = [self.encoder.audio(windows[i:i + BATCH]) for i in range(0, len(windows), BATCH)]
        if not outs:
            return torch.zeros(0, self.scene_embedding_size, device=windows.device)
        return torch.cat(outs)


def load_model(model_file_path: str = "", **_ignored) -> HearModel:
    """A dubclr checkpoint (our directory, a training step, or an authors' file)."""
    if not model_file_path:
        raise CheckpointError("dubclr.hear.load_model needs a checkpoint path "
                              "(hear-validator dubclr.hear -m PATH/TO/CHECKPOINT)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return HearModel(load_encoder(model_file_path, device=device))


_WANTED = "float32 samples in [-1, 1], shape (n_sounds, n_samples), mono at model.sample_rate"


def _check_audio(audio, model: HearModel) -> torch.Tensor:
    """The audio as a float32 tensor on the model's device, or a ValueError saying what
    HEAR audio must be. A NumPy array (any float dtype) is converted."""
    if not isinstance(audio, torch.Tensor):
        try:
            audio = torch.as_tensor(audio)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"HEAR audio must be a torch.Tensor or NumPy array of {_WANTED}; "
                             f"got {type(audio).__name__}") from None
    if not audio.is_floating_point():
        dtype = str(audio.dtype).replace("torch.", "")
        raise ValueError(f"HEAR audio must be {_WANTED}; got {dtype}. Integer PCM must be "
                         "scaled first: int16 / 32768.0 (int32 / 2147483648.0)")
    if audio.dim() != 2:
        raise ValueError(f"HEAR audio must be {_WANTED}; got shape {tuple(audio.shape)}")
    finite = torch.isfinite(audio).all(dim=1)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).flatten().tolist()
        raise ValueError(f"HEAR audio holds NaN or infinite samples in sound(s) {bad[:5]}; "
                         f"expected {_WANTED}")
    return audio.to(device=model._device(), dtype=torch.float32)


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n_sounds, n_timestamps, D)`` embeddings and ``(n_sounds, n_timestamps)`` times in ms."""
    audio = _check_audio(audio, model)
    n_sounds, n = audio.shape
    hop = round(HOP_MS * model.sample_rate / 1000)
    clip = model.clip_samples
    count = max(1, (n - 1) // hop + 1)  # centres 0, hop, ... up to the last sample
    half = clip // 2
    padded = torch.nn.functional.pad(audio, (half, clip - half))
    windows = padded.unfold(1, clip, hop)[:, :count]  # (n_sounds, count, clip) view
    emb = model.embed_windows(windows.reshape(n_sounds * count, clip))
    emb = emb.reshape(n_sounds, count, model.timestamp_embedding_size)
    times = torch.arange(count, dtype=torch.float64) * (hop * 1000.0 / model.sample_rate)
    times = times.to(torch.float32).to(audio.device).expand(n_sounds, count).contiguous()
    return emb, times


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """``(n_sounds, D)``: the mean of the sound's 3 s window embeddings."""
    audio = _check_audio(audio, model)
    n_sounds, n = audio.shape
    clip = model.clip_samples
    spans = audio_windows(n, model.sample_rate, model.encoder.audio_spec.clip_seconds) or [(0, n)]
    pieces = []
    for s, e in spans:  # windows shorter than a clip are zero-padded by the front-end
        piece = audio[:, s:e]
        pieces.append(torch.nn.functional.pad(piece, (0, clip - piece.shape[1])))
    windows = torch.stack(pieces, dim=1)  # (n_sounds, n_windows, clip)
    emb = model.embed_windows(windows.reshape(-1, clip))
    emb = emb.reshape(n_sounds, len(spans), model.scene_embedding_size)
    return emb.mean(dim=1)
