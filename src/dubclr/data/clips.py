"""The frame size a clip leaves a worker with: a square of its short side.

Training clips of one batch come from titles of any shape (4:3, 2.39:1, portrait). Each is
decoded at its own short side (``read_video(short_side=S)``, scaled inside the decoder) and
then cut here to a square of that short side, so every clip of every batch is ``S x S`` and
the batch stacks by construction. The square is placed at random along the long side in
training (from the item's own random generator, so a resumed run cuts the same squares) and
centred in evaluation. A clip whose short side is below ``S`` (a small source) is scaled up
to ``S`` after the cut. The device-side transform then scales and crops within the square
(``data.video.train_scale``, ``crop``). Every crop of the whole frame stays reachable; its
position along the long side is now the sum of two uniform draws (the square's, then the
crop's within it), so crops at the far edges of a wide frame are rarer than with one
random crop of the whole frame.

The prepared-shards loader stores and reads clips cut by this same function.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def square_offset(height: int, width: int, rng: np.random.Generator | None = None) -> tuple[int, int]:
    """``(top, left)`` of the square of side ``min(height, width)``: drawn uniformly along
    the long side from ``rng``, or centred (torchvision's rounding) without one."""
    side = min(height, width)
    slack_h, slack_w = height - side, width - side
    if rng is None:
        return int(round(slack_h / 2.0)), int(round(slack_w / 2.0))
    slack = max(slack_h, slack_w)
    shift = int(rng.integers(0, slack + 1)) if slack else 0
    return (shift, 0) if slack_h else (0, shift)


def square_clip(frames: np.ndarray, size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """uint8 ``(T, H, W, C)`` (as ``read_video`` returns) -> ``(T, size, size, C)``.

    The square of side ``min(H, W)`` (random position from ``rng`` in training, the centre
    without), scaled to ``size`` when its side differs (bilinear; antialiased when
    shrinking). ``read_video(short_side=size)`` makes the side ``size`` unless the source
    is smaller. Draws exactly one integer from ``rng`` (none from a square source).
    """
    if frames.ndim != 4:
        raise ValueError(f"expected frames (T, H, W, C), got shape {frames.shape}")
    return square_planes(frames.transpose(3, 0, 1, 2), size, rng).transpose(1, 2, 3, 0)


def square_planes(frames: np.ndarray, size: int,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """:func:`square_clip` for planar frames ``(C, T, H, W)`` -> ``(C, T, size, size)``: the
    same square from the same draw (the shards loader decodes straight into this layout)."""
    if frames.ndim != 4:
        raise ValueError(f"expected frames (C, T, H, W), got shape {frames.shape}")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    height, width = frames.shape[2:4]
    side = min(height, width)
    top, left = square_offset(height, width, rng)
    square = frames[:, :, top:top + side, left:left + side]
    if side == size:
        return square
    x = torch.from_numpy(np.ascontiguousarray(square)).permute(1, 0, 2, 3)
    return _resize(x, size).permute(1, 0, 2, 3).numpy()


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(N, C, S, S)`` -> ``(N, C, size, size)``: bilinear, antialiased when shrinking."""
    shrinking = x.shape[-1] > size
    x = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False,
                      antialias=shrinking)
    return x.round_().clamp_(0, 255).to(torch.uint8)
