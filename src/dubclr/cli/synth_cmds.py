"""`dubclr synth corpus OUT`: build the bundled synthetic dubbed corpus."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dubclr.errors import ConfigError

WORLDS = ("toy", "study")


def register(subparsers: argparse._SubParsersAction) -> None:
    synth = subparsers.add_parser("synth", help="synthetic data",
                                  description="Build synthetic dubbed data.")
    commands = synth.add_subparsers(dest="synth_command", metavar="COMMAND")
    synth.set_defaults(func=lambda args: synth.print_help() or 2)
    p = commands.add_parser(
        "corpus", help="build the synthetic dubbed corpus (MKVs, stems, subtitles, labels.json)",
        description="Build titles of procedural shots with sound beds and espeak-ng dialogue in "
                    "several languages: one MKV per title with a language-tagged audio stream "
                    "per language, stems, SRT subtitles and labels.json. Same seed, same labels.")
    p.add_argument("out", type=Path, help="output folder (new or empty)")
    p.add_argument("--titles", type=int, default=12, help="number of titles (default 12)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--languages", default="en,es,fr,ja",
                   help="comma-separated languages from en,es,fr,ja,de,it,ko (default en,es,fr,ja)")
    p.add_argument("--original", default=None,
                   help="original language (default: the first of --languages)")
    p.add_argument("--world", choices=WORLDS, default="toy",
                   help="toy (default): a scene per shot, dubs on the original's timing and "
                   "voices; study: the controlled study's premise (actors whose faces go with "
                   "their original voices, shots revisiting a few locations, dubs re-voiced "
                   "and re-timed, a speech-removed track per title; docs/study.md)")
    p.add_argument("--shots", default=None,
                   help="min,max shots per title (default 6,12; study world 8,10)")
    p.add_argument("--shot-seconds", default=None,
                   help="min,max seconds per shot (default 3,12; study world 3,5)")
    p.add_argument("--title-seconds", type=float, default=None,
                   help="aimed-at title length in seconds (default 60; study world 40)")
    p.add_argument("--size", default=None,
                   help="frame size WxH (default 320x180; study world 128x72)")
    p.add_argument("--fps", type=int, default=25, help="frame rate (default 25)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="rebuild over an existing corpus")
    p.set_defaults(func=run_corpus)


def run_corpus(args: argparse.Namespace) -> int:
    from dubclr.synth import build_corpus

    languages = tuple(x.strip() for x in args.languages.split(",") if x.strip())
    if not languages:
        raise ConfigError(f"--languages needs at least one language (e.g. en,es), got "
                          f"{args.languages!r}")
    options = {}  # the toy world: CorpusOptions' defaults
    if args.world == "study":
        from dubclr.synth.study_world import STUDY_DEFAULTS

        options.update(STUDY_DEFAULTS)
    if args.shots is not None:
        options["shots"] = _pair(args.shots, int, "--shots")
    if args.shot_seconds is not None:
        options["shot_seconds"] = _pair(args.shot_seconds, float, "--shot-seconds")
    if args.title_seconds is not None:
        options["title_seconds"] = args.title_seconds
    if args.size is not None:
        options["size"] = _size(args.size)
    started = time.perf_counter()
    labels = build_corpus(
        args.out, titles=args.titles, seed=args.seed, languages=languages, jobs=args.jobs,
        overwrite=args.force, original_language=args.original or languages[0], fps=args.fps,
        world=args.world, **options)
    seconds = time.perf_counter() - started
    document = json.loads(labels.read_text(encoding="utf-8"))
    total = sum(t["duration"] for t in document["titles"])
    print(f"built {len(document['titles'])} titles ({args.world} world, {total / 60:.1f} min, "
          f"languages {','.join(languages)}) in {seconds:.1f} s")
    extra = ", title_NNN.separated.flac" if args.world == "study" else ""
    print(f"corpus:  {args.out}  (title_NNN.mkv, title_NNN.<lang>.srt{extra}, stems/)")
    print(f"labels:  {labels}")
    return 0


def _pair(text: str, kind, flag: str) -> tuple:
    try:
        low, high = (kind(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} takes min,max (e.g. 6,12), got '{text}'") from None
    return low, high


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size takes WIDTHxHEIGHT (e.g. 320x180), got '{text}'") from None
    return width, height
