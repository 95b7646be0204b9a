"""Which device each process gets (the CUDA side is simulated by the device count only)."""

import pytest
import torch

from dubclr.errors import ConfigError
from dubclr.train.distributed import pick_device


def test_cpu_and_auto_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("cpu", 3) == torch.device("cpu")
    assert pick_device("auto", 0) == torch.device("cpu")
    with pytest.raises(ConfigError, match="no CUDA device is visible"):
        pick_device("cuda", 0)


def test_one_gpu_per_process(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert pick_device("cuda", 1) == torch.device("cuda", 1)
    # two ranks on one GPU: NCCL says only "invalid usage" (seen on an H200); we say why
    with pytest.raises(ConfigError, match="local rank 2 has no GPU of its own.*--nproc-per-node 2"):
        pick_device("cuda", 2)


def test_unknown_device_is_named():
    with pytest.raises(ConfigError, match="'tpu' is not one of auto, cpu, cuda"):
        pick_device("tpu", 0)
