"""Training-side costs, each against a baseline measured in the same run.

1. The objective (eq. 1-3, both directions in one denominator, plus L_v and L_a) at a
   global batch, forward + backward, against open_clip's symmetric cross-entropy (two
   softmaxes) on the same four pairs.
2. One trainer step (TrainStep: guards, BatchNorm snapshot, clipping, AdamW) with the tiny
   MViT towers, against a bare forward + loss + backward + AdamW loop.

    .venv/bin/python benchmarks/bench_train.py [--batch 2048] [--steps 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from dubclr.data.transforms import ViewTransforms
from dubclr.models.av import build_model
from dubclr.models.config import AudioTowerConfig, HeadConfig, ModelConfig, VideoTowerConfig
from dubclr.train.distributed import DistEnv
from dubclr.train.loop.step import TrainStep, embed_views
from dubclr.train.loss import DubContrastiveLoss, LossConfig


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_loss(batch: int, dim: int, repeats: int) -> tuple[float, float]:
    g = torch.Generator().manual_seed(0)
    emb = {k: F.normalize(torch.randn(batch, dim, generator=g), dim=1).requires_grad_()
           for k in ("video_p", "video_s", "audio_p", "audio_s")}
    loss = DubContrastiveLoss(LossConfig(lambda_v=0.2, lambda_a=0.2))
    labels = torch.arange(batch)

    def ours():
        loss(emb).objective.backward()

    def clip_baseline():  # open_clip's symmetric loss on the same four pairs, same weights
        total = 0.0
        for (x, y), w in ((("video_p", "audio_s"), 0.5), (("video_s", "audio_p"), 0.5),
                          (("video_p", "video_s"), 0.2), (("audio_p", "audio_s"), 0.2)):
            logits = emb[x] @ emb[y].T / 0.07
            total = total + w * 0.5 * (F.cross_entropy(logits, labels)
                                       + F.cross_entropy(logits.T, labels))
        total.backward()

    return timed(ours, repeats), timed(clip_baseline, repeats)


def bench_step(batch: int, steps: int) -> tuple[float, float]:
    cfg = ModelConfig(video=VideoTowerConfig(arch="mvit", preset="tiny", frames=8, crop=64),
                      audio=AudioTowerConfig(arch="mvit", preset="tiny"),
                      head=HeadConfig(hidden_dim=128, out_dim=64))
    g = torch.Generator().manual_seed(0)
    data = {"video_p": torch.rand(batch, 3, 8, 64, 64, generator=g),
            "video_s": torch.rand(batch, 3, 8, 64, 64, generator=g),
            "audio_p": torch.randn(batch, 1, 96, 288, generator=g),
            "audio_s": torch.randn(batch, 1, 96, 288, generator=g)}
    loss = DubContrastiveLoss(LossConfig())

    torch.manual_seed(0)
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    runner = TrainStep(model, loss, opt, DistEnv(), transforms=ViewTransforms(), grad_clip=1.0,
                       autocast_dtype=None)
    ours = timed(lambda: runner.run([data], False), steps)

    torch.manual_seed(0)
    bare_model = build_model(cfg)
    bare_opt = torch.optim.AdamW(bare_model.parameters(), lr=1e-4)

    def bare():
        emb = embed_views(bare_model, data, loss.views, ViewTransforms(), torch.device("cpu"),
                          torch.autocast("cpu", enabled=False))
        loss(emb).objective.backward()
        bare_opt.step()
        bare_opt.zero_grad()

    return ours, timed(bare, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048, help="global batch for the loss")
    parser.add_argument("--step-batch", type=int, default=8, help="batch for the trainer step")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    ours, base = bench_loss(args.batch, 512, args.steps)
    print("| measurement | ours | baseline | ratio |\n|---|---|---|---|")
    print(f"| objective fwd+bwd, B={args.batch}, d=512 (baseline: symmetric CLIP CE, same pairs) "
          f"| {ours * 1e3:.1f} ms | {base * 1e3:.1f} ms | {ours / base:.2f} |")
    ours, base = bench_step(args.step_batch, args.steps)
    print(f"| trainer step, tiny MViT pair, B={args.step_batch} (baseline: bare loop) "
          f"| {ours * 1e3:.0f} ms | {base * 1e3:.0f} ms | {ours / base:.2f} |")
    print(f"| trainer step clips/s | {args.step_batch / ours:.1f} | {args.step_batch / base:.1f} | |")


if __name__ == "__main__":
    main()
