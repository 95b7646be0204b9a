"""One override syntax for every command that reads a config.

``dubclr train CONFIG optim.lr=1e-4``, ``dubclr data check CONFIG data.seed=3`` and
``dubclr counterfactual run DIR --out OUT separate.backend=stems`` all take dotted
``key=value`` overrides anywhere after the command, and ``--set key=value`` (repeatable) as
the same thing. :func:`merge_overrides` puts them together in ``args.overrides``, in order:
positional ones first, then ``--set`` ones (a later value of a key wins).
"""

from __future__ import annotations

import argparse

from dubclr.errors import ConfigError


def add_override_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help=f"dotted config overrides, e.g. {example}")
    parser.add_argument("--set", dest="set_overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="an override, the same as a positional "
                        "key=value (repeatable)")


def merge_overrides(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """Move key=value leftovers of the parse and ``--set`` values into ``args.overrides``;
    returns the leftovers that are not overrides (argparse reports them)."""
    if not hasattr(args, "set_overrides"):
        return extra
    leftover = [x for x in extra if not _looks_like_override(x)]
    merged = list(args.overrides or []) + [x for x in extra if _looks_like_override(x)]
    merged += list(args.set_overrides)
    for item in merged:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ConfigError(f"override {item!r} is not of the form key.path=value")
    args.overrides = merged
    return leftover


def _looks_like_override(text: str) -> bool:
    return "=" in text and not text.startswith("-")
