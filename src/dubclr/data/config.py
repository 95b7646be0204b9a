"""DataConfig: which shots to train on, how batches are formed, how clips are decoded.

Every field can be set from YAML (the ``data:`` section of a training config) or with a
dotted override such as ``data.sampler.same_title=12``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from dubclr.data.policies import DubPolicy, parse_dub_policy
from dubclr.errors import ConfigError


@dataclass
class SelectionConfig:
    """Filters that form the paper's subsets (Table 1)."""

    original_languages: list[str] = field(default_factory=list)  # empty: every language
    min_tracks: int = 1  # 2 = only titles with at least one dub (B.4, B.5, C.2)
    languages_required: list[str] = field(default_factory=list)  # titles must have all of these
    max_clips: int | None = None  # clip budget: keep at most this many shots
    min_shots_per_title: int = 1
    require_separated: bool = False  # only titles with a speech-removed track

    def __post_init__(self) -> None:
        if self.min_tracks < 1:
            raise ConfigError(f"data.selection.min_tracks must be >= 1, got {self.min_tracks}")
        if self.max_clips is not None and self.max_clips < 1:
            raise ConfigError(f"data.selection.max_clips must be >= 1 or null, got {self.max_clips}")
        if self.min_shots_per_title < 1:
            raise ConfigError("data.selection.min_shots_per_title must be >= 1")


@dataclass
class SamplerConfig:
    """Batches are groups of ``same_title`` distinct shots from uniformly drawn titles."""

    batch_size: int = 8  # per rank
    # shots per title in a batch: an integer (12 per GPU), a fraction of the batch (0.125)
    # or a fraction written "1/8".
    same_title: int | float | str = "1/8"
    batches_per_epoch: int | None = None  # default: kept shots // global batch (one pass)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"data.sampler.batch_size must be >= 1, got {self.batch_size}")
        self.group_size()  # validate early
        if self.batches_per_epoch is not None and self.batches_per_epoch < 1:
            raise ConfigError("data.sampler.batches_per_epoch must be >= 1 or null")

    def group_size(self) -> int:
        """k, the number of shots per title in one rank's batch."""
        value = self.same_title
        if isinstance(value, str):
            try:
                value = float(Fraction(value.strip()))
            except (ValueError, ZeroDivisionError):
                raise ConfigError(f"data.sampler.same_title: {self.same_title!r} is not a number "
                                  "or a fraction like '1/8'") from None
            if value >= 1 and value.is_integer():
                value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            k = value
        elif isinstance(value, float) and 0 < value <= 1:
            k = max(1, round(value * self.batch_size))
        else:
            raise ConfigError(f"data.sampler.same_title must be a positive integer or a fraction "
                              f"in (0, 1], got {self.same_title!r}")
        if not 1 <= k <= self.batch_size:
            raise ConfigError(f"data.sampler.same_title gives k={k} shots per title, which must be "
                              f"between 1 and batch_size={self.batch_size}")
        return k


@dataclass
class VideoConfig:
    fps: float = 25.0
    num_frames: int = 16
    train_scale: tuple[int, int] = (256, 320)  # random short side
    crop: int = 224
    eval_short_side: int = 256
    eval_crops: str = "center"  # or "five"

    def __post_init__(self) -> None:
        lo, hi = self.train_scale
        if not 0 < lo <= hi:
            raise ConfigError(f"data.video.train_scale must be [low, high] with 0 < low <= high, got {self.train_scale}")
        if self.crop > lo or self.crop > self.eval_short_side:
            raise ConfigError(f"data.video.crop={self.crop} must not exceed the scaled short side "
                              f"(train_scale low {lo}, eval_short_side {self.eval_short_side})")
        if self.eval_crops not in ("center", "five"):
            raise ConfigError(f"data.video.eval_crops must be 'center' or 'five', got {self.eval_crops!r}")


@dataclass
class AudioConfig:
    sample_rate: int = 48000
    channels: int = 1  # 1 (mono, as released) or 2 (the controlled study)
    n_fft: int = 1024
    hop_length: int = 501
    n_mels: int = 96
    frames: int = 288
    max_mask_fraction: float = 0.5  # time and frequency masking in training
    mask_value: float = 0.0

    def __post_init__(self) -> None:
        if self.channels not in (1, 2):
            raise ConfigError(f"data.audio.channels must be 1 or 2, got {self.channels}")
        if not 0 <= self.max_mask_fraction <= 1:
            raise ConfigError("data.audio.max_mask_fraction must be within [0, 1]")


@dataclass
class DataConfig:
    catalog: Path = Path("catalog.sqlite")
    # null: decode windows from the original titles; a folder written by
    # `dubclr shards build CATALOG OUT`: read them from its prepared shot shards (same items)
    shards: Path | None = None
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    # written mono | fixed:<lang> | cycle:<l1,l2,...> | random | separated | audio_only[:<policy>]
    dub_policy: DubPolicy = field(default_factory=lambda: parse_dub_policy("random"))
    clip_seconds: float = 3.0
    video: VideoConfig = field(default_factory=VideoConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    num_workers: int = 2
    prefetch_factor: int = 2
    max_retries: int = 3  # replacement shots tried when a clip fails to decode

    def __post_init__(self) -> None:
        if isinstance(self.dub_policy, str):  # built in Python rather than read by from_dict
            self.dub_policy = parse_dub_policy(self.dub_policy)
        if self.clip_seconds <= 0:
            raise ConfigError(f"data.clip_seconds must be > 0, got {self.clip_seconds}")
        if self.num_workers < 0:
            raise ConfigError("data.num_workers must be >= 0")
        if self.max_retries < 0:
            raise ConfigError("data.max_retries must be >= 0")

    def preprocessing(self) -> dict:
        """What evaluation needs to feed a model as it was trained (recorded in each
        checkpoint's provenance as ``"data"``; ``dubclr.evaluate.encoder`` reads it)."""
        v, a = self.video, self.audio
        return {"clip_seconds": self.clip_seconds,
                "video": {"fps": v.fps, "num_frames": v.num_frames,
                          "train_scale": list(v.train_scale), "crop": v.crop,
                          "eval_short_side": v.eval_short_side},
                "audio": {"sample_rate": a.sample_rate, "channels": a.channels,
                          "n_fft": a.n_fft, "hop_length": a.hop_length, "n_mels": a.n_mels,
                          "frames": a.frames}}
