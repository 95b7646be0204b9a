"""`dubclr media probe FILE [--json]`: what a title holds."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from dubclr.media import probe


def register(subparsers: argparse._SubParsersAction) -> None:
    media = subparsers.add_parser("media", help="inspect media files",
                                  description="Inspect media files (titles and their sidecars).")
    commands = media.add_subparsers(dest="media_command", metavar="COMMAND")
    media.set_defaults(func=lambda args: media.print_help() or 2)
    p = commands.add_parser(
        "probe", help="list the video stream and every audio track of a title",
        description="Print the video stream and every audio track (with its language, ISO 639-1) "
                    "of a title, including sidecar files like Movie.es.flac next to it.")
    p.add_argument("file", help="a media file (MKV, MP4, WAV, FLAC...)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_probe)


def run_probe(args: argparse.Namespace) -> int:
    info = probe(args.file)
    if args.json:
        print(json.dumps(asdict(info), indent=1, default=str))
        return 0
    print(f"{info.path}  ({info.duration:.3f} s)")
    if info.video:
        v = info.video
        print(f"  video  stream {v.index}: {v.codec} {v.width}x{v.height} {v.fps:g} fps, "
              f"{v.num_frames} frames, {v.duration:.3f} s")
    else:
        print("  video  none")
    for t in info.audio:
        where = f"stream {t.stream_index}" if t.path == info.path else t.path.name
        flag = "  default" if t.default else ""
        print(f"  audio  {t.index}: {t.language:<4} {t.codec} {t.sample_rate} Hz "
              f"{t.channels} ch, {t.duration:.3f} s ({where}){flag}")
    return 0
