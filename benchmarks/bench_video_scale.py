"""Bytes per clip and decode time: source resolution vs scaling inside the decoder.

On the real 1080p 23.976 fps title of the test media (``dubclr.testing``), decodes the same
16-frame 3 s windows (as the training loader asks for them) several ways in one process:

* source: ``read_video`` at source resolution (what a worker sent before);
* torch: source resolution, then an antialiased float resize (what a worker would do without
  the decoder's help);
* swscale <FILTER>: ``read_video(..., short_side=S)``, scaled from the decoded YUV frame.

Quality is the PSNR of each result against an ideal resize (float64, antialiased triangle
filter) of the same source frames. Times are per clip, ratios against ``source`` in the same
run, so they survive a loaded machine.

    .venv/bin/python benchmarks/bench_video_scale.py [--short-side 320] [--clips 8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

import dubclr.media.video as video
from dubclr.media import read_video
from dubclr.media.video import short_side_size
from dubclr.testing.titles import build_real_media

FILTERS = ("AREA", "BILINEAR", "FAST_BILINEAR", "BICUBIC")


def ideal_resize(clip: np.ndarray, width: int, height: int) -> np.ndarray:
    """float64 antialiased resize of ``(T, H, W, 3)`` uint8 frames."""
    x = torch.from_numpy(clip).permute(0, 3, 1, 2).double()
    y = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return y.permute(0, 2, 3, 1).numpy()


def psnr(a: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - reference) ** 2))
    return 10 * np.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")


def timed(fn, starts):
    t0 = time.perf_counter()
    clips = [fn(s) for s in starts]
    return (time.perf_counter() - t0) / len(starts), clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-side", type=int, default=320, help="training scale maximum")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--title", default="film_1080p_23976")
    args = parser.parse_args()
    torch.set_num_threads(1)
    media = build_real_media()
    path = media.path(args.title)
    spec = media.spec(args.title)
    starts = np.linspace(0.0, spec.seconds - 3.0, args.clips).round(3).tolist()
    read = lambda s, **kw: read_video(path, s, 3.0, fps=25, num_frames=16, **kw)  # noqa: E731
    read(starts[0])  # warm the probe cache and the page cache
    base_time, sources = timed(read, starts)
    width, height = short_side_size(spec.size[0], spec.size[1], args.short_side)
    references = [ideal_resize(c, width, height) for c in sources]

    def torch_scaled(s):
        clip = torch.from_numpy(read(s)).permute(0, 3, 1, 2).float()
        out = F.interpolate(clip, size=(height, width), mode="bilinear", antialias=True)
        return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

    rows = [("source", base_time, sources[0].nbytes, None)]
    t, clips = timed(torch_scaled, starts)
    rows.append(("torch antialias", t, clips[0].nbytes,
                 np.mean([psnr(c, r) for c, r in zip(clips, references)])))
    for name in FILTERS:
        video.SCALE_INTERPOLATION = name
        t, clips = timed(lambda s: read(s, short_side=args.short_side), starts)
        rows.append((f"swscale {name}", t, clips[0].nbytes,
                     np.mean([psnr(c, r) for c, r in zip(clips, references)])))
    print(f"{args.title}: {spec.size[0]}x{spec.size[1]} at {float(spec.fps):.3f} fps, "
          f"{args.clips} clips of 16 frames (3 s), short side {args.short_side} -> "
          f"{width}x{height}; one thread")
    print(f"{'method':<22}{'ms/clip':>9}{'x source':>10}{'MB/clip':>9}{'PSNR dB':>9}")
    for name, t, nbytes, quality in rows:
        q = "-" if quality is None else f"{quality:.1f}"
        print(f"{name:<22}{1000 * t:>9.0f}{t / base_time:>10.2f}{nbytes / 1e6:>9.2f}{q:>9}")


if __name__ == "__main__":
    main()
