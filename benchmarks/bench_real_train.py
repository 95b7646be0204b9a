"""The toy config on real 1080p input against the synthetic corpus: bytes per clip leaving a
worker, loader clips/s, training clips/s, and where a step's time goes.

Builds two catalogs in OUT: ``--copies`` copies of the real 1080p title (`film_1080p_23976`,
23.976 fps, 7 s, two shots; see ``dubclr.testing``) and a synthetic corpus of ``--titles``
titles at the corpus' usual 320x180. Then, for each, with ``configs/toy/EN.yaml``:

* loader: the training loader (``data.num_workers`` workers) alone for ``--batches``
  batches: the bytes of each video clip and audio clip a worker hands over, batches/s;
* step phases: ``--repeats`` training steps by hand while the workers decode, as in a run:
  the median seconds waiting for the batch, in the training transforms (uint8 -> crops,
  waveform -> log-mel), the forward (model + loss) and the backward (+ optimizer step), and
  the shapes that reach the model;
* training: ``dubclr train`` for ``--steps`` optimizer steps (workers decoding while the
  main process trains): clips/s over the whole run, and steady (after step 3).

    .venv/bin/python benchmarks/bench_real_train.py --out /tmp/bench_real [--copies 4]
        [--inputs synthetic,real] [--parts loader,steps,train]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import torch

from dubclr.config import load_config
from dubclr.data.indexer import index_folder
from dubclr.data.loader import build_train_loader
from dubclr.data.transforms import ViewTransforms, build_transforms
from dubclr.models.av import build_model
from dubclr.testing.titles import build_real_media
from dubclr.train.config import TrainConfig
from dubclr.train.loop import Trainer
from dubclr.train.loop.step import embed_views
from dubclr.train.loss import DubContrastiveLoss

TOY = Path(__file__).resolve().parents[1] / "configs" / "toy" / "EN.yaml"


def real_catalog(out: Path, copies: int) -> Path:
    media = build_real_media()
    folder = out / "real_1080p"
    if not folder.exists():
        staging = out / "real_1080p.tmp"
        staging.mkdir(parents=True, exist_ok=True)
        for k in range(copies):
            shutil.copy2(media.path("film_1080p_23976"), staging / f"film_{k:02d}.mkv")
        staging.rename(folder)
    catalog = out / "real_1080p.sqlite"
    index_folder(folder, catalog, show_progress=False)
    return catalog


def synthetic_catalog(out: Path, titles: int) -> Path:
    from dubclr.synth import build_corpus

    folder = out / "synthetic"
    if not (folder / "labels.json").exists():
        build_corpus(folder, titles=titles, seed=0, jobs=1, show_progress=False)
    catalog = out / "synthetic.sqlite"
    index_folder(folder, catalog, show_progress=False)
    return catalog


def config(catalog: Path, run_dir: Path, steps: int, workers: int) -> TrainConfig:
    return load_config(TrainConfig, TOY, [
        f"data.catalog={catalog}", f"run_dir={run_dir}", f"schedule.max_steps={steps}",
        "schedule.epochs=1000", "data.sampler.batches_per_epoch=100",
        "checkpoint.every_steps=100000", f"data.num_workers={workers}"])


def measure_loader(cfg: TrainConfig, batches: int) -> dict:
    loader = build_train_loader(cfg.data, seed=cfg.seed)
    sizes, first = {}, None
    started = time.perf_counter()
    for k, batch in zip(range(batches + 1), loader):
        if k == 0:  # the workers' start-up is not throughput
            first = batch
            started = time.perf_counter()
            continue
    seconds = time.perf_counter() - started
    count = len(first["meta"])
    for key, value in first.items():
        if key != "meta":
            sizes[key] = {"shape": list(value.shape), "bytes_per_clip": value.nbytes // count}
    return {"views": sizes, "batches_per_s": batches / seconds,
            "clips_per_s": batches * count / seconds, "batch": first}


def measure_steps(cfg: TrainConfig, steps: int) -> dict:
    """Training steps by hand, the loader's workers decoding meanwhile as in a run: the
    median seconds per step waiting for the batch, in the transforms, the forward (model +
    loss) and the backward, and the shapes that reach the model."""
    torch.manual_seed(0)
    model = build_model(cfg.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss = DubContrastiveLoss(cfg.loss, cfg.data.dub_policy.loss_terms)
    views = ViewTransforms(*build_transforms(cfg.data, train=True))
    device, no_autocast = torch.device("cpu"), torch.autocast("cpu", enabled=False)
    plain = ViewTransforms()  # the views already transformed: the forward alone
    times: dict[str, list[float]] = {"wait_s": [], "transform_s": [], "forward_s": [],
                                     "backward_s": []}
    shapes = {}
    batches = iter(build_train_loader(cfg.data, seed=cfg.seed))
    next(batches)  # the workers' start-up is not a step
    for _ in range(steps):
        t0 = time.perf_counter()
        batch = next(batches)
        t1 = time.perf_counter()
        inputs = {v: views(v, batch[v]) for v in loss.views}
        t2 = time.perf_counter()
        objective = loss(embed_views(model, inputs, loss.views, plain, device, no_autocast)).objective
        t3 = time.perf_counter()
        objective.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[key].append(value)
        shapes = {v: list(x.shape) for v, x in inputs.items()}
    return {"model_inputs": shapes, **{k: statistics.median(v) for k, v in times.items()}}


def measure_training(cfg: TrainConfig) -> dict:
    shutil.rmtree(cfg.run_dir, ignore_errors=True)
    result = Trainer(cfg, show_progress=False).fit()
    records = [json.loads(x) for x in (Path(cfg.run_dir) / "metrics.jsonl").read_text().splitlines()]
    per_step = result.clips / max(len(records), 1)
    # steady state: from the end of step 3 (workers started, first batches out) to the last
    steady = per_step * (len(records) - 3) / (records[-1]["time_s"] - records[2]["time_s"])
    return {"steps": result.step - result.start_step, "seconds": result.seconds,
            "clips_per_s": result.clips / result.seconds, "clips_per_s_steady": steady}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--copies", type=int, default=4, help="copies of the 1080p title")
    parser.add_argument("--titles", type=int, default=4, help="synthetic titles")
    parser.add_argument("--batches", type=int, default=6, help="loader batches timed")
    parser.add_argument("--steps", type=int, default=12, help="training steps")
    parser.add_argument("--repeats", type=int, default=6, help="steps timed by phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--inputs", default="synthetic,real", help="synthetic,real or one")
    parser.add_argument("--parts", default="loader,steps,train", help="what to measure")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    inputs, parts = args.inputs.split(","), args.parts.split(",")
    catalogs = {}
    if "synthetic" in inputs:
        catalogs["synthetic 320x180"] = synthetic_catalog(args.out, args.titles)
    if "real" in inputs:
        catalogs["real 1920x1080"] = real_catalog(args.out, args.copies)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.workers} loader workers, config {TOY.name}")
    rows = {}
    for name, catalog in catalogs.items():
        cfg = config(catalog, args.out / f"run_{name.split()[0]}", args.steps, args.workers)
        row = {}
        if "loader" in parts:
            row["loader"] = measure_loader(cfg, args.batches)
            row["loader"].pop("batch")
        if "steps" in parts:
            row["phases"] = measure_steps(cfg, args.repeats)
        if "train" in parts:
            row["training"] = measure_training(cfg)
        rows[name] = row
        print(json.dumps({name: row}), flush=True)
    if parts != ["loader", "steps", "train"]:
        return
    print("\n| input | video clip from a worker | bytes/clip | audio bytes/clip | loader clips/s "
          "| wait s | transform s | forward s | backward s | model video input "
          "| train clips/s (steady) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        views, phases = row["loader"]["views"], row["phases"]
        print(f"| {name} | {tuple(views['video_p']['shape'][1:])} "
              f"| {views['video_p']['bytes_per_clip'] / 1e6:.2f} MB "
              f"| {views['audio_p']['bytes_per_clip'] / 1e3:.0f} kB "
              f"| {row['loader']['clips_per_s']:.2f} | {phases['wait_s']:.3f} "
              f"| {phases['transform_s']:.3f} "
              f"| {phases['forward_s']:.3f} | {phases['backward_s']:.3f} "
              f"| {tuple(phases['model_inputs']['video_p'])} "
              f"| {row['training']['clips_per_s']:.2f} "
              f"({row['training']['clips_per_s_steady']:.2f}) |")


if __name__ == "__main__":
    main()
