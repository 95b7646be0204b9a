"""Catalog statistics: the paper's Fig. 3 (languages, dubs) and Table 1 columns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from dubclr.data.catalog import Catalog


def catalog_stats(catalog: Catalog) -> dict:
    """Titles, hours, shots, languages, tracks per title and dub coverage."""
    titles = catalog.titles()
    length_ok = [(t, s) for t in titles for s in t.shots if s[2]]
    kept = [s for t, s in length_ok if t.trainable(s[0], s[1])]
    track_langs: Counter = Counter()
    originals: Counter = Counter()
    original_sources: Counter = Counter()
    tracks_per_title: Counter = Counter()
    dub_langs: Counter = Counter()
    multi_track_shots, separated = 0, 0
    shots_without_dub_audio: Counter = Counter()  # language -> trainable shots it misses
    for title in titles:
        dialogue = [t for t in title.tracks if t.kind == "dialogue"]
        separated += any(t.kind == "separated" for t in title.tracks)
        track_langs.update(t.language for t in dialogue)
        originals[title.original_language] += 1
        original_sources[title.original_source] += 1
        tracks_per_title[len(dialogue)] += 1
        dub_langs.update(t.language for t in dialogue if t.language != title.original_language)
        trainable = [(s, e) for s, e, k in title.shots if k and title.trainable(s, e)]
        if len(dialogue) >= 2:
            multi_track_shots += len(trainable)
        for track in dialogue:
            shots_without_dub_audio[track.language] += sum(
                1 for s, e in trainable if not track.covers(s, e))
    multi = [n for n, c in tracks_per_title.items() for _ in range(c) if n >= 2]
    lengths = [e - s for s, e, _ in kept]
    return {
        "catalog": str(catalog.path),
        "titles": len(titles),
        "hours": round(sum(t.duration for t in titles) / 3600.0, 4),
        "titles_shorter_than_stated": sum(
            1 for t in titles if t.stated_duration and t.duration < t.stated_duration - 0.5),
        "shots_detected": sum(len(t.shots) for t in titles),
        "shots_kept": len(kept),
        "shots_without_original_audio": len(length_ok) - len(kept),
        "shots_missing_language_audio": {k: v for k, v in shots_without_dub_audio.most_common()
                                         if v},
        "roots": catalog.roots(),
        "duplicate_titles": catalog.duplicates(),
        "kept_hours": round(sum(lengths) / 3600.0, 4),
        "mean_kept_shot_seconds": round(sum(lengths) / len(lengths), 3) if lengths else 0.0,
        "failures": len(catalog.failures()),
        "original_languages": dict(originals.most_common()),
        "original_sources": dict(original_sources.most_common()),  # default-track / csv
        "track_languages": dict(track_langs.most_common()),
        "dub_languages": dict(dub_langs.most_common()),
        "titles_by_tracks": {str(k): v for k, v in sorted(tracks_per_title.items())},
        "dub_coverage": {
            "titles_with_dubs": len(multi),
            "fraction_of_titles": round(len(multi) / len(titles), 4) if titles else 0.0,
            "avg_tracks_where_dubbed": round(sum(multi) / len(multi), 3) if multi else 0.0,
            "avg_dubs_per_title": round(sum(dub_langs.values()) / len(titles), 3) if titles else 0.0,
            "shots_in_dubbed_titles": multi_track_shots,
        },
        "titles_with_separated_track": separated,
        "shot_seconds": sorted(round(x, 3) for x in lengths),
    }


def format_stats(stats: dict) -> str:
    cov = stats["dub_coverage"]
    lines = [
        f"catalog      {stats['catalog']}",
        f"titles       {stats['titles']}  ({stats['hours']:.2f} h)",
        f"shots        {stats['shots_kept']} kept of {stats['shots_detected']} "
        f"({stats['kept_hours']:.2f} h, mean {stats['mean_kept_shot_seconds']:.1f} s)",
        f"failures     {stats['failures']}",
        f"left out     {stats['shots_without_original_audio']} shots without original-language "
        "audio; per language, shots its track does not cover: "
        + _hist(stats["shots_missing_language_audio"]),
        "original     " + _hist(stats["original_languages"])
        + "  (from: " + _hist(stats["original_sources"]) + ")",
        "tracks       " + _hist(stats["track_languages"]),
        "dubs         " + _hist(stats["dub_languages"]),
        "tracks/title " + _hist(stats["titles_by_tracks"]),
        f"dub coverage {cov['titles_with_dubs']} titles ({100 * cov['fraction_of_titles']:.1f} %), "
        f"{cov['avg_tracks_where_dubbed']:.1f} tracks where dubbed, "
        f"{cov['avg_dubs_per_title']:.2f} dubs per title, {cov['shots_in_dubbed_titles']} shots",
    ]
    for paths in stats["duplicate_titles"]:
        lines.append(f"duplicates   {' = '.join(paths)}")
    lines.insert(1, f"indexed from {', '.join(stats['roots']) or '-'}")
    return "\n".join(lines)


def _hist(counts: dict) -> str:
    return "  ".join(f"{k}:{v}" for k, v in counts.items()) or "-"


def plot_stats(stats: dict, out: str | Path) -> Path:
    """Fig. 3-style panels: languages of tracks, dubs per title, shot lengths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, title in ((axes[0], "track_languages", "audio tracks by language"),
                           (axes[1], "titles_by_tracks", "titles by number of tracks")):
        counts = stats[key]
        ax.bar(list(counts), list(counts.values()), color="#4472c4")
        ax.set_title(title)
    axes[2].hist(stats["shot_seconds"] or [0], bins=20, color="#70ad47")
    axes[2].set_title("kept shot length (s)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
