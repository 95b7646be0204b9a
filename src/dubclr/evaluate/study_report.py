"""The controlled study's table (laid out like the paper's Table B.3), figure and notes.

A cell is ``mean±h``: the mean over training seeds and the half-width of its 95 %
t-interval (``report.fmt`` numbers, leading zero dropped). The best variant of a row is
bold, the worst italic. Beside the variants: the paired difference of the compared variants
(EFJ - EN) with its 95 % interval, the paired t-test's p, how many seeds went each way, and
the direction the paper reports for that kind of task.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

from dubclr.evaluate.report import fmt

# Rows that are not probe tasks: (type, label, analogue, modality)
RETRIEVAL_LABELS = {
    "retrieval_original": ("Retrieval", "V→A, original audio", "—", "AV"),
    "retrieval_dub": ("Retrieval", "V→A, dubbed audio", "—", "AV"),
    "retrieval_gap": ("Retrieval", "V→A gap (original − dub)", "—", "AV"),
}
LOWER_IS_BETTER = {"retrieval_gap"}

# What the paper reports for dub augmentation (EFJ) against the monolingual model (EN) on
# the analogue of each row, and where; for retrieval, what the mechanism predicts.
PAPER_DIRECTION = {
    "sound": "+ (ESC-50 .587 vs .527, B.3)",
    "scene": "≈ (video-only tasks mixed: B.4, Table 4)",
    "audiovisual": "+ (VGGSound .311 vs .303, B.3)",
    "speakers": "+ (LibriCount .676 vs .654, B.3)",
    "language": "− small (VoxLingua .227 vs .251; VoxForge +, B.4)",
    "keyword": "− small / mixed (Table 2 A.4<A.3; B.4 mixed)",
    "retrieval_original": "not reported",
    "retrieval_dub": "not reported (mechanism: +)",
    "retrieval_gap": "not reported (mechanism: −)",
}


def study_rows(document: dict) -> tuple[list[str], list[list[str]], list[list[float | None]],
                                        list[str]]:
    """Header, text rows, the variants' means (for marking and the plot) and row ids."""
    variants = list(document["options"]["variants"])
    a, b = document["options"]["compare"]
    header = ["Type", "Task", "Analogue", "M", "Chance", *variants,
              f"{a}−{b} [95 % CI]", "p", f"{a}>{b} seeds", "Paper"]
    tasks = {t["name"]: t for t in document["tasks"]}
    rows, means, ids = [], [], []
    for row_id, entry in document["rows"].items():
        if row_id in tasks:
            t = tasks[row_id]
            fixed = [t["group"], t["name"], t["analogue"], t["modality"]]
        else:
            fixed = list(RETRIEVAL_LABELS[row_id])
        chance = document["chance"].get(row_id)
        cells, values = [], []
        for variant in variants:
            v = entry["variants"].get(variant)
            cells.append(_cell(v["mean"], v["half_width"]) if v else "—")
            values.append(v["mean"] if v else None)
        rows.append(fixed + ["—" if chance is None else fmt(chance), *cells, *_test_cells(entry)]
                    + [PAPER_DIRECTION.get(row_id, "")])
        means.append(values)
        ids.append(row_id)
    return header, rows, means, ids


def _missing(x) -> bool:
    """NaN in memory, None once the document went through JSON."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def _cell(mean: float, half: float | None) -> str:
    return fmt(mean) if _missing(half) else fmt(mean, half)


def _test_cells(entry: dict) -> list[str]:
    test = entry.get("test")
    if not test:
        return ["—", "—", "—"]
    interval = test["interval"]
    if _missing(interval["low"]):
        diff = _signed(test["mean_difference"])
    else:
        diff = (f"{_signed(test['mean_difference'])} [{_signed(interval['low'])}, "
                f"{_signed(interval['high'])}]")
    p = "—" if _missing(test["p"]) else f"{test['p']:.3f}"
    return [diff, p, f"{test['wins']}/{test['n']}"]


def _signed(x: float) -> str:
    return ("+" if x >= 0 else "−") + fmt(abs(x))


def best_and_worst(values: list[float | None], lower_is_better: bool) -> tuple[int | None,
                                                                              int | None]:
    present = [(v, i) for i, v in enumerate(values) if v is not None]
    if len(present) < 2 or min(present)[0] == max(present)[0]:
        return None, None
    low, high = min(present)[1], max(present)[1]
    return (low, high) if lower_is_better else (high, low)


def _marked(row: list[str], values, row_id: str, bold, italic) -> list[str]:
    best, worst = best_and_worst(values, row_id in LOWER_IS_BETTER)
    out = list(row)
    for i, mark in ((best, bold), (worst, italic)):
        if i is not None:
            out[5 + i] = mark(out[5 + i])
    return out


def study_markdown(document: dict) -> str:
    header, rows, means, ids = study_rows(document)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, values, row_id in zip(rows, means, ids):
        lines.append("| " + " | ".join(_marked(row, values, row_id, lambda c: f"**{c}**",
                                               lambda c: f"*{c}*")) + " |")
    return "# Controlled study (toy)\n\n" + "\n".join(lines) + "\n\n" + notes(document) + "\n"


def notes(document: dict) -> str:
    opts, timing = document["options"], document["timing"]
    seeds = len(opts["seeds"])
    a, b = opts["compare"]
    clips = document["clips"]
    stage = ", ".join(f"{name} {s['wall_s']:.0f} s wall / {s['cpu_s']:.0f} s CPU"
                      for name, s in timing["stages"].items())
    return (
        f"{len(opts['variants'])} variants x {seeds} seeds, {opts['steps']} steps each "
        f"(read from the {opts.get('data', 'originals')}), "
        f"pretrained on {opts['pretrain_titles']} study-world titles and evaluated on "
        f"{opts['heldout_titles']} held-out titles ({clips['shot_windows']} shot windows, "
        f"{clips['line_windows']} line windows); probes on title folds of the held-out titles.\n"
        f"Cells: mean over seeds ± half-width of the 95 % t-interval (Student's t, n-1 = "
        f"{seeds - 1} degrees of freedom). {a}−{b}: paired by seed (same initialisation, "
        f"shots, windows and evaluation split), 95 % t-interval of the differences and the "
        f"paired t-test's two-sided p; with {seeds} seeds only large, consistent differences "
        f"can reach p < .05. Chance: majority class (probes), 1/shots per title (retrieval). "
        f"Bold: best, italic: worst (for the gap, lower is better).\n"
        f"Time: {timing['wall_s']:.0f} s wall, {timing['cpu_s']:.0f} s CPU ({stage})"
        f"{_load(timing)}.")


def _load(timing: dict) -> str:
    load = timing.get("load_average") or {}
    if not load.get("start") or not load.get("end"):
        return ""
    return (f"; load average {load['start'][0]:.1f} at the start, {load['end'][0]:.1f} at the "
            f"end, on {timing.get('cpus', '?')} CPUs")


def study_html(document: dict, png_name: str | None) -> str:
    header, rows, means, ids = study_rows(document)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row, values, row_id in zip(rows, means, ids):
        cells = _marked([html.escape(c) for c in row], values, row_id,
                        lambda c: f"<b>{c}</b>", lambda c: f'<span class="worst">{c}</span>')
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    img = f'<p><img src="{png_name}" alt="controlled study"></p>' if png_name else ""
    return ("<!doctype html><meta charset='utf-8'><title>dubclr controlled study</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
            ".worst{color:#888}</style><h1>Controlled study (toy)</h1>"
            f"<table><tr>{head}</tr>{''.join(body)}</table>"
            f"<p>{html.escape(notes(document)).replace(chr(10), '<br>')}</p>{img}")


def study_png(document: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    header, rows, _, ids = study_rows(document)
    variants = list(document["options"]["variants"])
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(ids)), 4))
    width = 0.8 / max(len(variants), 1)
    x = np.arange(len(ids))
    for j, variant in enumerate(variants):
        entries = [document["rows"][r]["variants"].get(variant) for r in ids]
        mean = [e["mean"] if e else np.nan for e in entries]
        half = [0 if not e or _missing(e["half_width"]) else e["half_width"] for e in entries]
        position = x + (j - (len(variants) - 1) / 2) * width
        ax.bar(position, mean, width, yerr=half, capsize=2, label=variant, alpha=0.8)
        for k, e in enumerate(entries):  # the seeds themselves
            if e:
                ax.plot([position[k]] * len(e["seeds"]), list(e["seeds"].values()), "k.",
                        markersize=3)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xticks(x, [row[1] for row in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("score (bars: mean, whiskers: 95 % CI, dots: seeds)", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_study_report(document: dict, out_dir: str | Path) -> dict[str, Path]:
    """study.json, study.md, study.html and study.png in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "study.json", "markdown": out / "study.md",
             "html": out / "study.html", "png": out / "study.png"}
    paths["markdown"].write_text(study_markdown(document), encoding="utf-8")
    study_png(document, paths["png"])
    paths["html"].write_text(study_html(document, paths["png"].name), encoding="utf-8")
    document = {**document, "paths": {k: str(p) for k, p in paths.items()}}
    paths["json"].write_text(json.dumps(_finite(document), indent=1) + "\n")
    return paths


def _finite(value):
    """The document with NaN as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value
