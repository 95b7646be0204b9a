"""Decode lanes: where a shard's picture is decoded, on CPU cores or on the GPU's decoders.

``cpu``: PyAV in the loader workers (`dubclr.shards.video.decode_windows`): only the packets
the sampled frames depend on are decoded, RGB conversion and scaling by swscale.

``cuda``: torchcodec's ``VideoDecoder(device="cuda")`` decodes on NVDEC; scaling runs on the GPU
as a torch resize, so the frames never leave the device. CUDA cannot run in forked loader
workers: there the workers fetch the record's bytes (`ShardReader.fetch`) and the training
process decodes them (`decode_on_lane`). torchcodec needs a build matching the installed torch;
it is not a dependency of dubclr.

``auto``: ``cuda`` when torch sees a GPU and torchcodec imports, else ``cpu``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from dubclr.errors import BackendUnavailableError, ConfigError
from dubclr.shards.video import decode_windows

LANES = ("auto", "cpu", "cuda")


def cuda_lane_problem() -> str | None:
    """Why the cuda lane cannot run here, or None when it can."""
    import torch

    if not torch.cuda.is_available():
        return (f"torch {torch.__version__} sees no CUDA device (a CPU-only build, or no GPU "
                "visible: check CUDA_VISIBLE_DEVICES)")
    if importlib.util.find_spec("torchcodec") is None:
        return ("torchcodec is not installed; install the torchcodec build that matches torch "
                f"{torch.__version__} (see https://github.com/pytorch/torchcodec#installing)")
    return None


def choose_lane(requested: str) -> str:
    """The lane to decode on: 'cpu' or 'cuda'. Raises when 'cuda' is asked and cannot run."""
    if requested not in LANES:
        raise ConfigError(f"decode_lane must be one of {', '.join(LANES)}, not {requested!r}")
    if requested == "cpu":
        return "cpu"
    problem = cuda_lane_problem()
    if requested == "cuda" and problem:
        raise BackendUnavailableError(f"decode_lane='cuda' cannot run: {problem}; use "
                                      "decode_lane='cpu' (or 'auto') to decode on CPU cores")
    return "cpu" if problem else "cuda"


def decode_on_lane(lane: str, data: bytes, windows: Sequence[Sequence[int]], *,
                   size: tuple[int, int] | None = None, name: str = "clip", reformatter=None,
                   planar: bool = False):
    """Each window's frames ``(T, H, W, 3)`` uint8 (``planar``: ``(3, T, H, W)``): numpy on
    'cpu', a CUDA tensor on 'cuda'."""
    if lane == "cpu":
        return decode_windows(data, windows, size=size, name=name, reformatter=reformatter,
                              planar=planar)
    frames = decode_windows_cuda(data, windows, size=size)
    return [f.permute(3, 0, 1, 2) for f in frames] if planar else frames


def decode_windows_cuda(data: bytes, windows: Sequence[Sequence[int]], *,
                        size: tuple[int, int] | None = None, device: str = "cuda") -> list:
    """The cuda lane: NVDEC decodes the union of the windows once; resize on the GPU."""
    import torch
    import torch.nn.functional as F
    from torchcodec.decoders import VideoDecoder

    decoder = VideoDecoder(data, device=device, dimension_order="NCHW", seek_mode="exact")
    last = decoder.metadata.num_frames - 1
    union = sorted({min(int(i), last) for window in windows for i in window})
    frames = decoder.get_frames_at(indices=union).data  # (N, 3, H, W) uint8 on the device
    if size is not None and (frames.shape[-1], frames.shape[-2]) != tuple(size):
        width, height = size
        frames = F.interpolate(frames.float(), size=(height, width), mode="bilinear",
                               align_corners=False, antialias=True)
        frames = frames.round_().clamp_(0, 255).to(torch.uint8)
    frames = frames.permute(0, 2, 3, 1)  # (N, H, W, 3)
    position = {index: k for k, index in enumerate(union)}
    return [frames[[position[min(int(i), last)] for i in window]] for window in windows]
