"""The training loader from originals vs from shards at 1080p, with 1 and 2 workers; build and storage.

Makes ``--titles`` movie-like titles (as `bench_shards.py`: Big Buck Bunny upscaled to
1920x1080, 23.976 fps, H.264 with a keyframe every 250 frames at a film-like bitrate, a real
5.1 track and two stereo dubs), indexes them, builds their shards
(`dubclr.shards.pipeline.build_shards`, 320 px short side, Ray on ``--build-workers`` CPUs),
then runs the real training loader (`dubclr.shards.loader.build_train_loader`: the sampler,
the DataLoader workers, the squares, the collate) over the same batches two ways:

* originals: ``data.shards=null`` (`QuadrupletDataset`: each window decoded from the 1080p
  title at 320 px short side);
* shards: ``data.shards=OUT`` (one record read, one decode for both windows).

16 frames per clip, 3 s windows, mono audio at 48 kHz, batches of 8 (4 shots per title),
dub policy random. The rate is quadruplets per CPU-second: the CPU time of the loader's
worker processes (``RUSAGE_CHILDREN``, read after they exit) plus the main process's, so it
is per core whatever else runs on the box; wall-clock rates are printed too.

    .venv/bin/python benchmarks/bench_loader.py [--titles 2] [--seconds 60] [--out DIR]
        [--originals 2] [--shards 20] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch
from bench_shards import make_titles  # this folder

from dubclr.config import from_dict
from dubclr.data.config import DataConfig
from dubclr.data.indexer import index_folder
from dubclr.shards.build import ShardOptions
from dubclr.shards.index import INDEX_NAME, ShardIndex
from dubclr.shards.loader import ShardQuadrupletDataset, build_train_loader
from dubclr.shards.pipeline import build_shards

BATCH = 8


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def loader_config(catalog: Path, shards: Path | None, workers: int, batches: int) -> DataConfig:
    return from_dict(DataConfig, {
        "catalog": str(catalog), "shards": str(shards) if shards else None,
        "sampler": {"batch_size": BATCH, "same_title": 4, "batches_per_epoch": batches},
        "num_workers": workers, "dub_policy": "random", "clip_seconds": 3.0,
        "video": {"num_frames": 16, "train_scale": [256, 320], "crop": 224},
        "audio": {"channels": 1, "sample_rate": 48000}})


def run_loader(catalog: Path, shards: Path | None, workers: int, batches: int) -> dict:
    """Quadruplets per CPU-second (workers + main) and per wall-second over ``batches``."""
    loader = build_train_loader(loader_config(catalog, shards, workers, batches), seed=0)
    child0, self0, wall0 = children_cpu(), time.process_time(), time.perf_counter()
    items = 0
    for batch in loader:
        items += len(batch["meta"])
        assert batch["video_p"].shape[-3:] == (16, 320, 320)
    wall = time.perf_counter() - wall0
    cpu = children_cpu() - child0 + time.process_time() - self0
    return {"items": items, "cpu": cpu, "wall": wall, "per_cpu": items / cpu,
            "per_wall": items / wall}


class PackedShardDataset(ShardQuadrupletDataset):
    """The shard read before planar decoding: packed RGB, then a transposing copy (for the
    before/after figure)."""

    def read_views(self, shot, starts, languages, rng) -> dict:
        cfg = self.cfg
        sample = self.reader.read(shot.title, shot.index, list(starts), list(languages),
                                  clip_seconds=cfg.clip_seconds,
                                  num_frames=cfg.video.num_frames, short_side=self.frame_size,
                                  channels=cfg.audio.channels)
        return {"video_p": self.square(sample.video[0], rng),
                "video_s": self.square(sample.video[1], rng),
                "audio_p": torch.from_numpy(sample.audio[0]),
                "audio_s": torch.from_numpy(sample.audio[1])}


def in_process(catalog: Path, shards: Path, count: int) -> dict[str, float]:
    """Quadruplets per CPU-second of this process (no workers): packed (before) vs planar."""
    loader = build_train_loader(loader_config(catalog, shards, 0, count // BATCH + 1), seed=1)
    items = [it for batch in loader.sampler.batches(0) for it in batch][:count]
    rates = {}
    for name, kind in (("packed", PackedShardDataset), ("planar", ShardQuadrupletDataset)):
        dataset = kind(loader.dataset.shots, loader.dataset.cfg)
        dataset[items[0]]  # open the index
        c0 = time.process_time()
        for item in items:
            dataset[item]
        rates[name] = len(items) / (time.process_time() - c0)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each title")
    parser.add_argument("--out", type=Path, default=None, help="keep titles and shards here")
    parser.add_argument("--originals", type=int, default=2, help="batches of 8, originals path")
    parser.add_argument("--shards", type=int, default=20, help="batches of 8, shards path")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--items", type=int, default=160,
                        help="quadruplets for the in-process before/after read figure")
    parser.add_argument("--build-workers", type=int, default=2, help="local Ray CPUs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = args.out or Path(tempfile.mkdtemp(prefix="bench_loader_"))
    folder, shots = make_titles(root / "titles", args.titles, args.seconds)
    csv = root / "shots.csv"
    csv.write_text("file,start,end\n" + "".join(f"{f},{s},{e}\n" for f, s, e in shots))
    catalog = root / "catalog.sqlite"
    if not catalog.exists():
        index_folder(folder, catalog, shots_csv=csv, show_progress=False)
    out = root / "shards"
    w0 = time.perf_counter()
    report = build_shards(catalog, out, ShardOptions(), workers=args.build_workers,
                          show_progress=False)
    build_wall = time.perf_counter() - w0
    if report.failed:
        raise SystemExit(f"build failed: {report.failed}")
    with ShardIndex(out / INDEX_NAME) as index:
        rows = list(index.titles().values())
    seconds, duration = sum(r.seconds for r in rows), sum(r.duration for r in rows)
    cpu, shard_bytes = sum(r.cpu_seconds for r in rows), sum(r.bytes for r in rows)
    source_bytes = sum(p.stat().st_size for p in folder.glob("*.mkv"))
    kbps = source_bytes * 8 / 1000 / (args.titles * args.seconds)
    print(f"titles: {args.titles} x {args.seconds:.0f} s, 1920x1080 at 23.976 fps, keyframe "
          f"every 250 frames, {kbps:,.0f} kbit/s (video + 5.1 FLAC + 2 AAC dubs); "
          f"{len(shots)} shots of 3-12 s")
    print(f"build: {duration:.0f} s of titles in {cpu:.1f} CPU-s of build tasks = "
          f"{duration / cpu:.1f}x real time per core ({build_wall:.0f} s wall on "
          f"{args.build_workers} Ray CPUs incl. Ray start; {report.skipped} titles already built)")
    print(f"storage: {shard_bytes / 1e6:.1f} MB = {shard_bytes / 1e9 / (seconds / 3600):.2f} GB "
          f"per hour of shots (sources {source_bytes / 1e9 / (duration / 3600):.2f} GB/h)")
    print(f"{'path':<10} {'workers':>7} {'quadruplets':>11} {'CPU-s':>7} {'quad/CPU-s':>10} "
          f"{'wall s':>7} {'quad/s wall':>11}")
    rates: dict[str, list[float]] = {"originals": [], "shards": []}
    for workers in args.workers:
        for name, shards, batches in (("originals", None, args.originals),
                                      ("shards", out, args.shards)):
            r = run_loader(catalog, shards, workers, batches)
            rates[name].append(r["per_cpu"])
            print(f"{name:<10} {workers:>7} {r['items']:>11} {r['cpu']:>7.2f} "
                  f"{r['per_cpu']:>10.2f} {r['wall']:>7.1f} {r['per_wall']:>11.2f}", flush=True)
    before_after = in_process(catalog, out, args.items)
    print(f"in-process shard reads ({args.items} quadruplets, one core): before (packed RGB + "
          f"transposing copy) {before_after['packed']:.1f}, after (planar RGB) "
          f"{before_after['planar']:.1f} quadruplets per CPU-second")
    ratio = [s / o for s, o in zip(rates["shards"], rates["originals"])]
    best = max(rates["shards"] + [before_after["planar"]])
    print(f"shards / originals per CPU-second: {', '.join(f'{x:.1f}x' for x in ratio)}")
    print(f"cores for one GPU at 1,500 quadruplets/s: {1500 / best:.0f} from shards, "
          f"{1500 / max(rates['originals']):.0f} from originals")


if __name__ == "__main__":
    main()
