"""The `dubclr` command: a thin layer over the package.

Each area registers its commands in its own module under ``dubclr.cli`` with a
``register(subparsers)`` function; a command handler takes the parsed ``args`` and returns
an exit code (0 or None for success).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dubclr import __version__
from dubclr.cli.overrides import merge_overrides
from dubclr.cli.streams import silence_stdout
from dubclr.errors import DubclrError

# One module per area, each registering its own sub-commands.
COMMAND_MODULES = (
    "doctor",  # dubclr doctor
    "media_cmds",  # dubclr media probe
    "synth_cmds",  # dubclr synth corpus
    "models_cmds",  # dubclr models, dubclr checkpoint convert|info
    "data_cmds",  # dubclr index, dubclr catalog stats, dubclr data check
    "train_cmds",  # dubclr train
    "evaluate_cmds",  # dubclr embed, dubclr probe, dubclr bench toy
    "counterfactual_cmds",  # dubclr counterfactual run|report
    "shards_cmds",  # dubclr shards build|info
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dubclr",
        description="Dub-augmented audiovisual representation learning: index multi-track "
        "titles, train video<->audio contrastive models, embed and evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"dubclr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"dubclr.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"dubclr.cli.{name}":
                continue  # area not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        extra = merge_overrides(args, extra)
    except DubclrError as exc:
        print(f"dubclr: error: {exc}", file=sys.stderr)
        return 2
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        rc = args.func(args)
        sys.stdout.flush()  # a reader that has gone (`| head`) shows here at the latest
    except BrokenPipeError:  # the reader took what it wanted: end quietly
        silence_stdout()
        return 0
    except DubclrError as exc:
        print(f"dubclr: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # permission denied, disk full, a path that vanished...
        print(f"dubclr: error: {exc.strerror or exc}"
              f"{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dubclr: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
