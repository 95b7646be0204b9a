"""Bytes per clip and decode time: source resolution vs scaling inside the decoder.

On the real 1080p 23.976 fps title of the test media (``dubclr.testing``), decodes the same
16-frame 3 s windows (as the training loader asks for them) several ways in one process:

* source: ``read_video`` at source resolution (what a worker sent before);
* torch: source resolution, then an antialiased float resize (what a worker would do without
  the decoder's help);
* swscale <FILTER>: ``read_video(..., short_side=S)``, scaled from the decoded YUV frame.

Quality is the PSNR of each result against an ideal resize (float64, antialiased triangle
filter) of the same source frames. Times are medians per clip with the methods taking turns
clip by clip; ratios are against ``source`` in the same run, so they survive a loaded machine.

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


def interleaved(methods: dict, starts: list[float], repeats: int) -> tuple[dict, dict]:
    """Seconds per clip and the clips of each method, the methods taking turns clip by clip
    (so a change in the machine's load hits them alike)."""
    seconds = {name: [] for name in methods}
    clips = {name: [] for name in methods}
    for _ in range(repeats):
        for start in starts:
            for name, fn in methods.items():
                t0 = time.perf_counter()
                clip = fn(start)
                seconds[name].append(time.perf_counter() - t0)
                if len(clips[name]) < len(starts):
                    clips[name].append(clip)
    return {k: float(np.median(v)) for k, v in seconds.items()}, clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-side", type=int, default=320, help="training scale maximum")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--title", default="film_1080p_23976")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the clips")
    args = parser.parse_args()
    torch.set_num_threads(1)
    media = build_real_media()
    path = media.path(args.title)
    spec = media.spec(args.title)
    starts = np.linspace(0.0, spec.seconds - 3.0, args.clips).round(3).tolist()
    read = lambda s, **kw: read_video(path, s, 3.0, fps=25, num_frames=16, **kw)  # noqa: E731
    read(starts[0])  # warm the probe cache and the page cache
    width, height = short_side_size(spec.size[0], spec.size[1], args.short_side)

    def torch_scaled(s):
        clip = torch.from_numpy(read(s)).permute(0, 3, 1, 2).float()
        out = F.interpolate(clip, size=(height, width), mode="bilinear", antialias=True)
        return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

    def swscale(name):
        def run(s):
            video.SCALE_INTERPOLATION = name
            return read(s, short_side=args.short_side)
        return run

    methods = {"source": read, "torch antialias": torch_scaled}
    methods.update({f"swscale {name}": swscale(name) for name in FILTERS})
    seconds, clips = interleaved(methods, starts, args.repeats)
    references = [ideal_resize(c, width, height) for c in clips["source"]]
    base_time = seconds["source"]
    rows = []
    for name in methods:
        quality = None if name == "source" else np.mean(
            [psnr(c, r) for c, r in zip(clips[name], references)])
        rows.append((name, seconds[name], clips[name][0].nbytes, quality))
    print(f"{args.title}: {spec.size[0]}x{spec.size[1]} at {float(spec.fps):.3f} fps, "
          f"{args.clips} clips of 16 frames (3 s) x {args.repeats}, short side "
          f"{args.short_side} -> {width}x{height}; one thread")
    print(f"{'method':<22}{'ms/clip':>9}{'x source':>10}{'MB/clip':>9}{'PSNR dB':>9}")
    for name, t, nbytes, quality in rows:
        q = "-" if quality is None else f"{quality:.1f}"
        print(f"{name:<22}{1000 * t:>9.0f}{t / base_time:>10.2f}{nbytes / 1e6:>9.2f}{q:>9}")


if __name__ == "__main__":
    main()
