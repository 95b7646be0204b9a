"""Quadruplets per second per worker core: our window decoding vs a naive baseline.

Builds a small synthetic corpus (320x180, 25 fps, 4 languages), indexes it, then decodes the
same quadruplets (same shots, windows and languages) two ways in one process with one thread:

* dubclr: ``QuadrupletDataset`` - seek to each 3 s window, decode only it, convert only the
  16 sampled frames to RGB, cut the centre square, read each audio window sample-exactly;
* naive: decode the whole shot (all frames to RGB, both audio tracks over the whole shot),
  then resample / subsample / slice the two windows out of it.

    .venv/bin/python benchmarks/bench_window_decode.py [--titles 4] [--items 48] [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dubclr.config import from_dict
from dubclr.data.clips import square_clip
from dubclr.data.config import DataConfig
from dubclr.data.dataset import QuadrupletDataset
from dubclr.data.indexer import index_folder
from dubclr.data.loader import load_selection
from dubclr.data.sampler import SameTitleBatchSampler
from dubclr.data.shots import detect_cuts
from dubclr.media import read_audio, read_video, resample_indices, uniform_subsample_indices
from dubclr.synth import build_corpus


def naive_quadruplet(ds: QuadrupletDataset, position: int, meta: dict) -> dict:
    """Decode the whole shot, then cut the two windows out of it."""
    shot, clip, sr = ds.shots[position], ds.cfg.clip_seconds, ds.cfg.audio.sample_rate
    frames = read_video(shot.path, shot.start, shot.length, fps=None, num_frames=None)
    fps = 25.0  # the corpus is 25 fps; resample_indices keeps every frame then
    out = {}
    for key, t in (("video_p", meta["t_p"]), ("video_s", meta["t_s"])):
        # the frames whose timestamps fall in [t, t + clip), as read_video keeps them
        first = math.ceil((t - shot.start) * fps - 1e-6)
        last = math.ceil((t + clip - shot.start) * fps - 1e-6)
        window = frames[first:last]
        idx = resample_indices(len(window), fps, 25.0)
        idx = idx[uniform_subsample_indices(len(idx), ds.cfg.video.num_frames)]
        square = square_clip(window[idx], ds.frame_size)  # the centre square, as evaluation
        out[key] = torch.from_numpy(np.ascontiguousarray(square.transpose(3, 0, 1, 2)))
    for key, t, lang in (("audio_p", meta["t_p"], meta["lang_p"]),
                         ("audio_s", meta["t_s"], meta["lang_s"])):
        whole = read_audio(shot.path, shot.start, shot.length, track=lang, sample_rate=sr)
        first = round((t - shot.start) * sr)
        out[key] = torch.from_numpy(whole[first:first + round(clip * sr)])[None]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=4)
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--out", type=Path, default=None, help="keep the corpus here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = args.out or Path(tempfile.mkdtemp(prefix="bench_loader_"))
    corpus = root / "corpus"
    if not (corpus / "labels.json").exists():
        build_corpus(corpus, titles=args.titles, seed=0, show_progress=False)
    catalog = root / "catalog.sqlite"
    t0 = time.perf_counter()
    report = index_folder(corpus, catalog, jobs=1, show_progress=False)
    index_s = time.perf_counter() - t0
    # evaluation clips at the corpus' own short side (180): the centre square, unscaled, so
    # both methods must give identical tensors
    cfg = from_dict(DataConfig, {"catalog": str(catalog), "dub_policy": "random",
                                 "sampler": {"batch_size": 8, "same_title": 4}, "num_workers": 0,
                                 "video": {"train_scale": [180, 180], "crop": 160,
                                           "eval_short_side": 180}})
    shots = load_selection(cfg)
    ds = QuadrupletDataset(shots, cfg, train=False)
    sampler = SameTitleBatchSampler([s.title_id for s in shots], 8, 4, seed=0,
                                    batches_per_epoch=max(1, args.items // 8))
    items = [it for batch in sampler.batches(0) for it in batch][: args.items]
    ds[items[0]]  # warm the probe cache and the decoders

    t0 = time.perf_counter()
    ours = [ds[it] for it in items]
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = [naive_quadruplet(ds, it.shot, q["meta"]) for it, q in zip(items, ours)]
    naive_s = time.perf_counter() - t0
    same = all(torch.equal(a[k], b[k]) for a, b in zip(ours, naive)
               for k in ("video_p", "video_s"))
    audio_err = max(float((a[k] - b[k]).abs().max()) for a, b in zip(ours, naive)
                    for k in ("audio_p", "audio_s"))

    titles = sorted({s.path for s in shots})
    w0, c0 = time.perf_counter(), time.process_time()
    content = 0.0
    for path in titles:
        _, end = detect_cuts(path)
        content += end
    detect_wall, detect_cpu = time.perf_counter() - w0, time.process_time() - c0

    hours = sum(s.length for s in shots) / 3600
    mean_shot = sum(s.length for s in shots) / len(shots)
    n = len(items)
    print(f"corpus: {args.titles} titles, {len(shots)} kept shots (mean {mean_shot:.1f} s), "
          f"indexed {report.indexed} titles in {index_s:.1f} s")
    print(f"{'method':<28} {'quadruplets':>11} {'seconds':>8} {'quad/s/core':>12}")
    print(f"{'dubclr (window decode)':<28} {n:>11} {ours_s:>8.2f} {n / ours_s:>12.2f}")
    print(f"{'naive (whole shot decode)':<28} {n:>11} {naive_s:>8.2f} {n / naive_s:>12.2f}")
    print(f"speed-up: {naive_s / ours_s:.2f}x   video identical: {same}   "
          f"audio max |diff|: {audio_err:.2e}   ({hours * 3600:.0f} s of shots)")
    print(f"shot detection (320x180): {content:.0f} s of video in {detect_wall:.2f} s wall "
          f"({content / detect_wall:.0f}x real time), {detect_cpu:.2f} s CPU "
          f"({content / detect_cpu:.0f}x real time per core)")


if __name__ == "__main__":
    main()
