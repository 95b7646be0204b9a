"""`dubclr index`, `dubclr catalog stats`, `dubclr data check`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dubclr.cli.overrides import add_override_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index", help="probe titles, detect shots and write the catalog",
        description="Walk DATA_DIR for MKV/MP4/MOV/AVI titles (with sidecar audio such as "
        "Movie.es.flac and a speech-removed Movie.separated.flac), probe their tracks, detect "
        "shots, measure where each track really has audio, and store it all in a SQLite "
        "catalog. Unchanged files (size + mtime) are skipped; unreadable or truncated files are "
        "listed in the catalog's failures table. A title's original language is the track "
        "flagged original in the file, else the one --originals gives, else the default "
        "track's. A catalog belongs to the folder it was built from: another folder needs "
        "--add-root.")
    p.add_argument("data_dir", type=Path, help="folder holding the titles")
    p.add_argument("--catalog", type=Path, default=Path("catalog.sqlite"),
                   help="catalog file to create or update (default: catalog.sqlite)")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--min-shot", type=float, default=3.0, help="shortest kept shot, seconds")
    p.add_argument("--max-shot", type=float, default=12.0, help="longest kept shot, seconds")
    p.add_argument("--shots-csv", type=Path,
                   help="CSV with columns file,start,end: use these shots instead of detection")
    p.add_argument("--originals", type=Path, metavar="CSV",
                   help="CSV with columns file,language: each title's original (primary) "
                   "language, instead of its default track's. Kept by later runs without it")
    p.add_argument("--threshold", type=float, default=None,
                   help="cut detector score threshold (0..1, default 0.10)")
    p.add_argument("--add-root", action="store_true",
                   help="index DATA_DIR into a catalog that was built from another folder "
                   "(both collections are then trained on together)")
    p.set_defaults(func=cmd_index)

    cat = sub.add_parser("catalog", help="inspect a catalog")
    cats = cat.add_subparsers(dest="catalog_command", metavar="SUBCOMMAND")
    cat.set_defaults(func=lambda args: cat.print_help() or 2)
    st = cats.add_parser("stats", help="titles, hours, shots, languages, dub coverage",
                         description="Summarise a catalog: titles, hours, shots, the language "
                         "histogram, titles by number of tracks and dub coverage.")
    st.add_argument("catalog", type=Path, help="catalog.sqlite")
    st.add_argument("--plot", type=Path, help="also write a PNG with the histograms")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=cmd_stats)

    data = sub.add_parser("data", help="inspect the training data")
    datas = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: data.print_help() or 2)
    ck = datas.add_parser(
        "check", help="show what the model will see: the composition of the first batches",
        description="Load a training config (the whole config is validated, as `dubclr train` "
        "does), build its training loader and print each batch's titles, shots, languages of "
        "a_p and a_s, window times and tensor shapes. Files the catalog names but that are "
        "gone, and dub-policy languages no selected title has, are errors before anything is "
        "decoded. Every audio window is checked against its track's measured audio: one "
        "outside it (it would train on silence) is listed and the command exits 1. A relative "
        "data.catalog is looked up in the current folder, then beside the config.")
    ck.add_argument("config", type=Path, help="training YAML, e.g. configs/toy/EN.yaml")
    ck.add_argument("--batches", type=int, default=2, help="how many batches to show (default 2)")
    add_override_arguments(ck, "data.sampler.batch_size=4 seed=3 (as in `dubclr train`)")
    ck.add_argument("--rank", type=int, default=0)
    ck.add_argument("--world-size", type=int, default=1)
    ck.add_argument("--seed", type=int, default=None,
                    help="sampler seed (default: the config's seed)")
    ck.add_argument("--json", action="store_true", help="one JSON object per batch")
    ck.set_defaults(func=cmd_check)


def cmd_index(args: argparse.Namespace) -> int:
    from dubclr.data.indexer import IndexOptions, index_folder
    from dubclr.data.shots import DetectorConfig

    detector = DetectorConfig() if args.threshold is None else DetectorConfig(threshold=args.threshold)
    report = index_folder(args.data_dir, args.catalog, jobs=args.jobs, shots_csv=args.shots_csv,
                          originals_csv=args.originals, add_root=args.add_root,
                          options=IndexOptions(min_shot=args.min_shot, max_shot=args.max_shot,
                                               detector=detector))
    for path, reason in report.failures:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for paths in report.duplicates:
        print(f"warning: identical content (same size, same first and last MiB): "
              f"{' = '.join(paths)}; each would be the other's negative: remove the extra "
              "copies and re-index", file=sys.stderr)
    print(f"found {report.found} titles: {report.indexed} indexed, {report.unchanged} unchanged, "
          f"{report.failed} failed, {report.removed} removed")
    if args.originals:
        print(f"{report.originals_from_csv} original languages set from {args.originals}")
    print(f"catalog written to {report.catalog}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from dubclr.data.catalog import Catalog
    from dubclr.data.stats import catalog_stats, format_stats, plot_stats

    with Catalog.open(args.catalog) as catalog:
        stats = catalog_stats(catalog)
    if args.json:
        print(json.dumps({k: v for k, v in stats.items() if k != "shot_seconds"}, indent=1))
    else:
        print(format_stats(stats))
    if args.plot:
        print(f"plot written to {plot_stats(stats, args.plot)}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from dubclr.config import load_config
    from dubclr.data.dataset import windows_outside_audio
    from dubclr.progress import progress
    from dubclr.shards.loader import build_train_loader
    from dubclr.train.config import TrainConfig

    train_cfg = load_config(TrainConfig, args.config, args.overrides)
    cfg = train_cfg.data
    if not cfg.catalog.is_absolute() and not cfg.catalog.exists():
        beside = args.config.parent / cfg.catalog
        if beside.exists():
            cfg.catalog = beside
    seed = args.seed if args.seed is not None else train_cfg.seed
    # (missing files and unknown policy languages are errors here, before any decoding)
    loader = build_train_loader(cfg, rank=args.rank, world_size=args.world_size, seed=seed)
    if not args.json:
        print(f"{len(loader)} batches per epoch, batch {cfg.sampler.batch_size} per rank, "
              f"k={cfg.sampler.group_size()} per title, dub policy {cfg.dub_policy}")
    shown = max(0, min(args.batches, len(loader)))
    shots = {shot.shot_id: shot for shot in loader.dataset.shots}
    bar = progress(total=shown, desc="batches", unit="batch")
    outside = 0
    # iterating starts the workers decoding ahead: with nothing to show, do not start
    for step, batch in zip(range(shown), loader if shown else ()):
        bar.update(1)
        for meta in batch["meta"]:  # every window must lie where its tracks have audio
            meta["outside_audio"] = windows_outside_audio(shots[meta["shot_id"]], meta)
            outside += len(meta["outside_audio"])
        summary = describe_batch(step, batch)
        if args.json:
            print(json.dumps(summary))
        else:
            print(format_batch(summary))
    bar.close()
    print(f"{loader.clips} clips read, {loader.replaced} replaced after decode errors",
          file=sys.stderr)
    if outside:
        print(f"dubclr: error: {outside} audio window(s) lie outside their track's audio (listed "
              "above): they would train on silence. The catalog no longer matches the media: re-run "
              "`dubclr index` on its folder", file=sys.stderr)
        return 1
    return 0


def describe_batch(step: int, batch: dict) -> dict:
    shapes = {k: list(v.shape) for k, v in batch.items() if k != "meta"}
    dtypes = {k: str(v.dtype).replace("torch.", "") for k, v in batch.items() if k != "meta"}
    return {"step": step, "shapes": shapes, "dtypes": dtypes, "items": batch["meta"]}


def format_batch(summary: dict) -> str:
    shapes = "  ".join(f"{k} {tuple(v)} {summary['dtypes'][k]}" for k, v in summary["shapes"].items())
    lines = [f"batch {summary['step']}: {shapes}"]
    for m in summary["items"]:
        note = f"  replaced {len(m['replaced'])}" if m["replaced"] else ""
        lines.append(f"  {m['title']:<24} shot {m['shot']:>4}  a_p {m['lang_p']:<9} "
                     f"a_s {str(m['lang_s']):<4}  t_p {m['t_p']:8.3f}  t_s {m['t_s']:8.3f}{note}")
        lines.extend(f"    OUTSIDE AUDIO: {problem}" for problem in m.get("outside_audio", ()))
    return "\n".join(lines)
