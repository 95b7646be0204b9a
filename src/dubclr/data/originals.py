"""Original (primary) languages from a CSV: ``dubclr index --originals originals.csv``.

By default a title's original language is its default audio track's. A catalog of films
often knows better; this CSV (columns ``file,language``) sets it per title. ``file`` is the
title's path relative to the indexed folder, its absolute path, or just its file name;
``language`` is any tag :func:`dubclr.media.normalize_language` reads (``fra``, ``French``,
``fr-FR``). The language must be one of the title's audio tracks.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dubclr.errors import CatalogError
from dubclr.media import normalize_language


@dataclass(frozen=True)
class OriginalRow:
    file: str
    language: str  # normalised
    line: int  # line in the CSV, for error messages


def read_originals_csv(path: str | Path) -> list[OriginalRow]:
    """Rows of an originals CSV; raises CatalogError naming the line of a bad row."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"originals CSV not found: {path}")
    rows = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "language"} - set(reader.fieldnames or [])
        if missing:
            raise CatalogError(f"{path}: missing column(s) {', '.join(sorted(missing))}; the "
                               "header must be file,language")
        for line, row in enumerate(reader, start=2):
            file, tag = (row["file"] or "").strip(), (row["language"] or "").strip()
            language = normalize_language(tag)
            if not file or language == "und":
                raise CatalogError(f"{path}:{line}: need a file and a language such as 'fr' or "
                                   f"'fra', got {row['file']!r}, {row['language']!r}")
            rows.append(OriginalRow(file, language, line))
    return rows


def match_originals(rows: list[OriginalRow], titles: list[Path], root: Path,
                    source: str | Path) -> dict[str, OriginalRow]:
    """Title path -> its row. Every row must name exactly one title, once."""
    known = set(titles)
    by_rel = {p.relative_to(root).as_posix(): p for p in titles}
    by_name: dict[str, list[Path]] = {}
    for p in titles:
        by_name.setdefault(p.name, []).append(p)
    out: dict[str, OriginalRow] = {}
    for row in rows:
        where = f"{source}:{row.line}"
        if Path(row.file).is_absolute():
            given = Path(row.file)
            matches = [p for p in (given, given.resolve()) if p in known][:1]
        elif PurePosixPath(row.file).as_posix() in by_rel:
            matches = [by_rel[PurePosixPath(row.file).as_posix()]]
        else:
            matches = by_name.get(row.file, [])
        if not matches:
            raise CatalogError(f"{where}: {row.file!r} is not a title under {root}; use its path "
                               "relative to DATA_DIR, its absolute path or its file name")
        if len(matches) > 1:
            raise CatalogError(f"{where}: {row.file!r} names {len(matches)} titles "
                               f"({', '.join(str(m.relative_to(root)) for m in matches)}); "
                               "use the path relative to DATA_DIR")
        key = str(matches[0])
        if key in out and out[key].language != row.language:
            raise CatalogError(f"{where}: {row.file!r} already has language "
                               f"{out[key].language!r} (line {out[key].line})")
        out[key] = row
    return out


def check_original(title: str, row: OriginalRow, languages: list[str] | tuple[str, ...],
                   source: str | Path) -> str | None:
    """Why ``row`` cannot be ``title``'s original language, or None when it can."""
    if row.language in languages:
        return None
    return (f"{source}:{row.line}: {title} has no {row.language!r} track (its languages: "
            f"{', '.join(languages) or 'none'})")
