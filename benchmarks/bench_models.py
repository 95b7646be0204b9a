"""Backbone throughput: forward+backward clips/s and peak memory per preset and batch size.

    .venv/bin/python benchmarks/bench_models.py            # CPU table (a few minutes)

CPU: each (preset, batch) runs in a fresh subprocess so its peak RSS is its own; MViT rows
are timed with the SDPA path and the explicit softmax path in the same process and the
ratio is printed (ratios survive a noisy shared machine better than absolute numbers).
GPU figures (the MViTv2-S pair's training step, bf16, eager and compiled, MFU, attention
kernels, NCCL, fp16 embedding) come from the one prepared script benchmarks/gpu_check.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

# (preset, batch sizes) for the CPU table: tiny presets at toy-training batches, the
# full-size towers at batch 1-2 so the whole table stays within a few minutes.
CPU_CASES = [
    ("mvit-tiny-video", (8, 32)),
    ("mvit-tiny-audio", (8, 32)),
    ("x3d-tiny", (8, 32)),
    ("resnet-tiny-audio", (8, 32)),
    ("mvit-S-audio", (2,)),
    ("resnet50-audio", (2,)),
    ("x3d-M", (1,)),
    ("mvit-S-video", (1,)),
]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_steps(tower, x, steps: int, warmup: int = 1) -> float:
    """Seconds per forward+backward step (median of ``steps``)."""
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        tower(x).float().square().mean().backward()
        if x.is_cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        tower.zero_grad(set_to_none=True)
    return sorted(times)[len(times) // 2]


def run_case(name: str, batch: int, steps: int) -> dict:
    """One CPU measurement (runs inside the child process)."""
    from dubclr.models.presets import get_preset

    torch.manual_seed(0)
    preset = get_preset(name)
    tower = preset.build().train()
    x = torch.randn(batch, *preset.input_shape)
    base = _rss_mb()
    row = {"preset": name, "batch": batch}
    if hasattr(tower, "set_attention"):
        tower.set_attention("explicit")
        row["explicit_s"] = time_steps(tower, x, steps)
        tower.set_attention("sdpa")
    row["step_s"] = time_steps(tower, x, steps)
    row["clips_per_s"] = batch / row["step_s"]
    if "explicit_s" in row:
        row["sdpa_speedup"] = row["explicit_s"] / row["step_s"]
    row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return row


def cpu_table(steps: int) -> list[dict]:
    rows = []
    for name, batches in CPU_CASES:
        for batch in batches:
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, str(batch), "--steps", str(steps)],
                capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            ratio = f"{row['sdpa_speedup']:.2f}x" if "sdpa_speedup" in row else "-"
            print(f"{name:<20} {batch:>5} {row['step_s']:>9.3f} {row['clips_per_s']:>9.1f} "
                  f"{row['peak_mb']:>9.0f} {ratio:>12}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per case (median)")
    parser.add_argument("--json", help="also write all rows to this JSON file")
    parser.add_argument("--child", nargs=2, metavar=("PRESET", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
        print(json.dumps(run_case(args.child[0], int(args.child[1]), args.steps)))
        return
    result: dict = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"forward+backward, median of {args.steps} steps after 1 warm-up")
    print(f"{'preset':<20} {'batch':>5} {'s/step':>9} {'clips/s':>9} {'peak MB':>9} "
          f"{'SDPA/explicit':>12}")
    result["cpu"] = cpu_table(args.steps)
    print("GPU figures: benchmarks/gpu_check.sh (docs/performance.md, GPU section)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
