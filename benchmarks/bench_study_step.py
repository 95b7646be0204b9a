"""Where a controlled-study training step goes: loading from the originals vs from the shards,
and the model with its transforms, in CPU seconds per batch of the study's config.

Reads a finished (or started) study folder: its catalog and its shards (`make study`, or
`dubclr bench study --out OUT`). Loading runs the real training loader in this process
(``data.num_workers=0``, so every CPU second is counted here) over the same batches both
ways; the model step is the study's towers, loss and AdamW on those batches, one torch
thread, as each study run has.

    .venv/bin/python benchmarks/bench_study_step.py [--study runs/study] [--batches 8]
        [--variant EFJ]
"""

from __future__ import annotations

import argparse
import resource
from pathlib import Path

import torch

from dubclr.config import load_config
from dubclr.data.transforms import build_transforms
from dubclr.models.av import build_model
from dubclr.shards.loader import build_train_loader
from dubclr.train.config import TrainConfig
from dubclr.train.loss import DubContrastiveLoss


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load_batches(cfg: TrainConfig, count: int) -> tuple[list[dict], float]:
    """`count` batches after a first (warm-up) one, and CPU seconds per batch."""
    batches = iter(build_train_loader(cfg.data, seed=0))
    next(batches)
    start = cpu()
    out = [next(batches) for _ in range(count)]
    return out, (cpu() - start) / count


def model_step_seconds(cfg: TrainConfig, batches: list[dict]) -> float:
    model = build_model(cfg.model).train()
    video_t, audio_t = build_transforms(cfg.data, train=True)
    loss = DubContrastiveLoss(cfg.loss)
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    start = None
    for i, batch in enumerate([batches[0], *batches]):  # the first step warms up
        if i == 1:
            start = cpu()
        z = {"video_p": model.project_video(video_t(batch["video_p"])),
             "video_s": model.project_video(video_t(batch["video_s"])),
             "audio_p": model.project_audio(audio_t(batch["audio_p"])),
             "audio_s": model.project_audio(audio_t(batch["audio_s"]))}
        optim.zero_grad()
        loss(z).objective.backward()
        optim.step()
    return (cpu() - start) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=Path("runs/study"))
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--variant", default="EFJ")
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = [f"data.catalog={args.study / 'catalog.sqlite'}", "data.num_workers=0"]
    config = Path("configs/study") / f"{args.variant}.yaml"
    rows = {}
    for name, extra in (("originals", "data.shards=null"),
                        ("shards", f"data.shards={args.study / 'shards'}")):
        cfg = load_config(TrainConfig, config, [*base, extra])
        batches, seconds = load_batches(cfg, args.batches)
        rows[name] = seconds
        print(f"loading from the {name:9s}: {seconds:.3f} CPU-s per batch of "
              f"{cfg.data.sampler.batch_size} ({cfg.data.sampler.batch_size / seconds:.0f} "
              "quadruplets per CPU-second)", flush=True)
    step = model_step_seconds(cfg, batches)
    print(f"model + transforms, 1 thread: {step:.3f} CPU-s per step")
    for name, seconds in rows.items():
        print(f"a step from the {name}: {step + seconds:.2f} CPU-s")
    print(f"shards / originals loading: {rows['originals'] / rows['shards']:.1f}x less CPU")


if __name__ == "__main__":
    main()
