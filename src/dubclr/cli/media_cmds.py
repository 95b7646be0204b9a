"""`dubclr media probe PATH [--json]`: what a title (or every title in a folder) holds."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dubclr.media import MediaError, TitleInfo, find_titles, probe


def register(subparsers: argparse._SubParsersAction) -> None:
    media = subparsers.add_parser("media", help="inspect media files",
                                  description="Inspect media files (titles and their sidecars).")
    commands = media.add_subparsers(dest="media_command", metavar="COMMAND")
    media.set_defaults(func=lambda args: media.print_help() or 2)
    p = commands.add_parser(
        "probe", help="list the video stream and every audio track of a title or folder",
        description="Print the video stream and every audio track (with its language, ISO 639-1) "
                    "of a title, including sidecar files like Movie.es.flac next to it. Given a "
                    "folder, print one row per title: its languages and track durations.")
    p.add_argument("path", help="a media file (MKV, MP4, WAV, FLAC...) or a folder of titles")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_probe)


def run_probe(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_dir():
        return _probe_folder(path, as_json=args.json)
    info = probe(path)
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
        flag = ("  default" if t.default else "") + ("  original" if t.original else "")
        layout = f" ({' '.join(t.layout)})" if len(t.layout) > 2 else ""
        print(f"  audio  {t.index}: {t.language:<4} {t.codec} {t.sample_rate} Hz "
              f"{t.channels} ch{layout}, {t.duration:.3f} s ({where}){flag}")
    return 0


def _probe_folder(folder: Path, *, as_json: bool) -> int:
    """One row per title: video duration and each language track's duration."""
    infos: list[TitleInfo] = []
    failures: list[tuple[Path, str]] = []
    for path in find_titles(folder):
        try:
            infos.append(probe(path))
        except MediaError as exc:
            failures.append((path, str(exc)))
    if as_json:
        print(json.dumps({"titles": [asdict(i) for i in infos],
                          "failures": [{"path": str(p), "error": e} for p, e in failures]},
                         indent=1, default=str))
        return 1 if failures and not infos else 0
    languages = sorted({t.language for i in infos for t in i.audio})
    header = ["title", "video s"] + [f"{lang} s" for lang in languages]
    rows = []
    for info in infos:
        by_lang = {}
        for t in info.audio:
            mark = "*" if t.default else ""
            by_lang.setdefault(t.language, f"{t.duration:.2f}{mark}")
        video = f"{info.video.duration:.2f}" if info.video else "-"
        rows.append([info.path.name, video] + [by_lang.get(lang, "-") for lang in languages])
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(r, widths)))
    total = sum(i.duration for i in infos)
    print(f"\n{len(infos)} titles, {total / 60:.1f} min, languages {', '.join(languages) or '-'} "
          f"(* = default/original track) in {folder.resolve()}")
    for path, error in failures:
        print(f"unreadable: {path}: {error}")
    return 1 if failures and not infos else 0
