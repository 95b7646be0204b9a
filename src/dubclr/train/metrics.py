"""Training logs: a JSONL file (one line per logged step), TensorBoard when installed,
throughput (clips/s) and, on GPUs, model FLOPs utilisation (MFU)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

# Dense bf16 tensor-core peaks (FLOP/s) by device-name fragment, for MFU.
PEAK_BF16_FLOPS = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10G": 70e12,
    "A10": 125e12,
    "V100": 125e12,
}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_FLOPS.items():
        if key in name:
            return value
    return None


class MetricsLog:
    """Appends JSON lines to ``RUN/metrics.jsonl`` and mirrors scalars to TensorBoard."""

    def __init__(self, run_dir: Path, resume_step: int | None, tensorboard: bool) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        if resume_step is None:
            self.path.write_text("")
        else:
            self._truncate_after(resume_step)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: the JSONL file is the log
                SummaryWriter = None
            if SummaryWriter is not None:
                self.tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def _truncate_after(self, step: int) -> None:
        """Drop lines a killed run wrote past the checkpoint it resumes from."""
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by the kill
            if record.get("step", 0) <= step:
                kept.append(line)
        self.path.write_text("".join(k + "\n" for k in kept))

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.tb.add_scalar(f"train/{key}", value, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class Throughput:
    """Clips per second over the steps since the last ``read``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.clips = 0
        self.steps = 0

    def add(self, clips: int) -> None:
        self.clips += clips
        self.steps += 1

    def read(self) -> tuple[float, float]:
        """(clips per second, seconds per step), then restart the window."""
        now = time.perf_counter()
        elapsed = max(now - self.start, 1e-9)
        result = (self.clips / elapsed, elapsed / max(self.steps, 1))
        self.start, self.clips, self.steps = now, 0, 0
        return result
