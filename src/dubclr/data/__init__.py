"""The data path: catalog, shots, selection, same-title sampler, quadruplet loader, transforms."""

from dubclr.data.catalog import Catalog, ShotRecord
from dubclr.data.config import AudioConfig, DataConfig, SamplerConfig, SelectionConfig, VideoConfig
from dubclr.data.loader import TrainLoader, build_train_loader, load_selection
from dubclr.data.policies import DubPolicy, parse_dub_policy
from dubclr.data.sampler import BatchItem, SameTitleBatchSampler
from dubclr.data.transforms import AudioFrontend, VideoTransform, build_transforms

__all__ = [
    "AudioConfig", "AudioFrontend", "BatchItem", "Catalog", "DataConfig", "DubPolicy",
    "SameTitleBatchSampler", "SamplerConfig", "SelectionConfig", "ShotRecord", "TrainLoader",
    "VideoConfig", "VideoTransform", "build_train_loader", "build_transforms", "load_selection",
    "parse_dub_policy",
]
