"""`dubclr shards build`, `dubclr shards info`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("shards", help="prepared shot shards for fast training reads")
    ps = p.add_subparsers(dest="shards_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    b = ps.add_parser(
        "build", help="cut a catalog's kept shots into WebDataset tar shards (on Ray Data)",
        description="Per title, in one sequential decode: put the picture on the 25 fps grid "
        "once, scale it to --short-side (never up), encode each kept shot as its own short-GOP "
        "H.264 stream and cut every audio track (dialogue languages and the separated track) "
        "at the shot bounds, folded to stereo, as 48 kHz FLAC. One record per shot "
        "(KEY.json, KEY.mp4, KEY.<lang>.flac) in one tar per title under OUT/shards/, byte "
        "offsets in OUT/index.sqlite. Runs on Ray: in this process on --workers CPUs, or on "
        "the cluster at --ray-address. A re-run skips built titles and resumes a killed build; "
        "a title that fails is recorded and the build goes on.")
    b.add_argument("catalog", type=Path, help="catalog.sqlite from `dubclr index`")
    b.add_argument("out", type=Path, help="output folder (shards/ and index.sqlite)")
    b.add_argument("--short-side", type=int, default=320,
                   help="short side of the stored picture, pixels (default 320, the top of "
                   "the training scale range; smaller sources are kept as they are)")
    where = b.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="local CPUs for the in-process Ray (default: all of them)")
    where.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="a running Ray cluster (e.g. 10.0.0.1:6379 or 'auto'); every node "
                       "must see the media and OUT at the same paths")
    b.add_argument("--titles", nargs="+", metavar="NAME",
                   help="only these titles (catalog names or shell patterns like 'films/*')")
    b.add_argument("--retry-failed", action="store_true",
                   help="retry titles that failed before even though their files did not change")
    b.add_argument("--crf", type=int, default=23, help="H.264 constant quality (default 23)")
    b.add_argument("--gop", type=int, default=50, help="keyframe spacing in frames (default 50)")
    b.add_argument("--bframes", type=int, default=7,
                   help="non-reference B-frames between anchors (default 7)")
    b.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast)")
    b.set_defaults(func=cmd_build)

    i = ps.add_parser("info", help="what a shard folder holds",
                      description="Titles, shots, hours, bytes per hour of content, the "
                      "build's speed, and the titles that failed.")
    i.add_argument("out", type=Path, help="a folder written by `dubclr shards build`")
    i.set_defaults(func=cmd_info)


def cmd_build(args: argparse.Namespace) -> int:
    from dubclr.errors import ConfigError
    from dubclr.shards.build import ShardOptions
    from dubclr.shards.pipeline import build_shards
    from dubclr.shards.video import VideoCodec

    if args.short_side < 16 or (args.workers is not None and args.workers < 1):
        raise ConfigError("--short-side must be >= 16 and --workers >= 1")
    try:
        codec = VideoCodec(gop=args.gop, bframes=args.bframes, crf=args.crf, preset=args.preset)
    except ValueError as exc:
        raise ConfigError(f"video options: {exc}") from None
    options = ShardOptions(short_side=args.short_side, video=codec)
    report = build_shards(args.catalog, args.out, options, titles=args.titles,
                          workers=args.workers, ray_address=args.ray_address,
                          retry_failed=args.retry_failed)
    for name, reason in report.failed:
        print(f"failed: {name}: {reason}", file=sys.stderr)
    if report.failed_before:
        print(f"{len(report.failed_before)} titles failed in an earlier run and did not change "
              "(--retry-failed to try again); `dubclr shards info` lists them", file=sys.stderr)
    print(f"{report.titles} titles: {report.built} built, {report.skipped} already built, "
          f"{len(report.failed)} failed")
    if report.built:
        speed = report.duration / report.cpu_seconds if report.cpu_seconds else float("inf")
        print(f"built {report.seconds / 3600:.2f} h of shots ({report.bytes / 1e9:.2f} GB) "
              f"at {speed:.1f}x real time per core")
    print(f"shards written to {report.out / 'shards'}, index {report.index}")
    return 1 if report.failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    from dubclr.shards.index import INDEX_NAME, ShardIndex

    with ShardIndex(args.out / INDEX_NAME) as index:
        titles, failures = index.titles(), index.failures()
    shots = sum(t.shots for t in titles.values())
    seconds = sum(t.seconds for t in titles.values())
    size = sum(t.bytes for t in titles.values())
    cpu = sum(t.cpu_seconds for t in titles.values())
    duration = sum(t.duration for t in titles.values())
    print(f"{len(titles)} titles, {shots} shots, {seconds / 3600:.2f} h of shots, "
          f"{size / 1e9:.2f} GB ({size / 1e9 / max(seconds / 3600, 1e-9):.2f} GB per hour)")
    if cpu:
        print(f"build: {duration / cpu:.1f}x real time per core ({cpu:.0f} CPU-s for "
              f"{duration:.0f} s of titles)")
    for name, (path, _, _, error, reason) in failures.items():
        print(f"failed: {name} ({path}): {error}: {reason}")
    return 0
