"""Tables and figures for probe and benchmark results, laid out like the paper's Table B.3.

Rows are tasks (type, task, input modality), columns model variants; a cell is
``mean±std`` with the leading zero dropped (``.527±.012``). The best variant of a row is
bold and the worst italic (the paper shades it grey).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

LOWER_IS_BETTER = {"mse"}


def fmt(mean: float, std: float | None = None) -> str:
    def one(v: float) -> str:
        s = f"{v:.3f}"
        return s[1:] if s.startswith("0.") else ("-" + s[2:] if s.startswith("-0.") else s)

    return one(mean) if std is None else f"{one(mean)}±{one(std)}"


def bench_rows(result: dict) -> tuple[list[str], list[list[str]], list[list[float | None]]]:
    """Header, text rows and numeric means (for bold/italic and plots)."""
    names = list(result["variants"])
    header = ["Type", "Task", "Analogue", "M", "Metric", "Chance", *names]
    rows, values = [], []
    for task in result["tasks"]:
        cells, means, metric, chance = [], [], "top1", None
        for name in names:
            r = result["variants"][name]["tasks"].get(task["name"])
            if not r or "mean" not in r:
                cells.append("—")
                means.append(None)
                continue
            metric, chance = r["metric"], r.get("chance", chance)
            cells.append(fmt(r["mean"], r["std"]))
            means.append(r["mean"])
        rows.append([task["group"], task["name"], task["analogue"], task["modality"], metric,
                     "—" if chance is None else fmt(chance), *cells])
        values.append(means)
    for kind, label in (("original", "V→A retrieval, original audio"),
                        ("dub", "V→A retrieval, dubbed audio")):
        cells, means, chance = [], [], None
        for name in names:
            ret = result["variants"][name].get("retrieval") or {}
            r = ret.get(kind)
            chance = ret.get("chance", chance)
            cells.append(fmt(r["mean"], r["std"]) if r else "—")
            means.append(r["mean"] if r else None)
        rows.append(["Retrieval", label, "—", "AV", "top1", "—" if chance is None else fmt(chance),
                     *cells])
        values.append(means)
    return header, rows, values


def _marked(cells: list[str], means: list[float | None], metric: str, markup: str) -> list[str]:
    present = [m for m in means if m is not None]
    if len(present) < 2 or max(present) == min(present):
        return cells
    best = min(present) if metric in LOWER_IS_BETTER else max(present)
    worst = max(present) if metric in LOWER_IS_BETTER else min(present)
    out = []
    for c, m in zip(cells, means):
        if m == best:
            c = f"**{c}**" if markup == "md" else f"<b>{c}</b>"
        elif m == worst:
            c = f"*{c}*" if markup == "md" else f'<span class="worst">{c}</span>'
        out.append(c)
    return out


def markdown_table(header: list[str], rows: list[list[str]], values=None, fixed: int = 6) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        cells = row[fixed:]
        if values is not None:
            cells = _marked(cells, values[i], row[4], "md")
        lines.append("| " + " | ".join(row[:fixed] + cells) + " |")
    return "\n".join(lines) + "\n"


def bench_markdown(result: dict) -> str:
    header, rows, values = bench_rows(result)
    note = (f"\nToy benchmark on {result['titles']} synthetic titles ({result['shots']} shots): "
            f"mean±std over held-out title folds x seeds {result['seeds']}; retrieval: "
            "mean±std over titles. Chance: majority class (probes), 1/shots per title (retrieval). "
            "Bold: best, italic: worst.\n")
    return "# Toy benchmark\n\n" + markdown_table(header, rows, values) + note


def bench_html(result: dict, png_name: str | None) -> str:
    header, rows, values = bench_rows(result)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row, means in zip(rows, values):
        cells = _marked([html.escape(c) for c in row[6:]], means, row[4], "html")
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row[:6])
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    img = f'<p><img src="{png_name}" alt="toy benchmark"></p>' if png_name else ""
    return ("<!doctype html><meta charset='utf-8'><title>dubclr toy benchmark</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
            ".worst{color:#888}</style><h1>Toy benchmark</h1>"
            f"<table><tr>{head}</tr>{''.join(body)}</table>{img}")


def bench_png(result: dict, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    header, rows, values = bench_rows(result)
    names = header[6:]
    labels = [r[1] for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(labels)), 3.5))
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(labels))
    for j, name in enumerate(names):
        ys = [v[j] if v[j] is not None else np.nan for v in values]
        ax.bar(x + j * width, ys, width, label=name)
    ax.set_xticks(x + 0.4 - width / 2, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("score")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_bench_report(result: dict, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "toy_bench.json", "markdown": out / "toy_bench.md",
             "png": out / "toy_bench.png", "html": out / "toy_bench.html"}
    paths["json"].write_text(json.dumps(result, indent=2))
    paths["markdown"].write_text(bench_markdown(result))
    bench_png(result, paths["png"])
    paths["html"].write_text(bench_html(result, paths["png"].name))
    return paths


def probe_markdown(result: dict, name: str = "probe") -> str:
    header = ["Task", "Metric", "Probe", "Samples", "Result"]
    rows = [[name, result["metric"], result["probe"]["kind"], str(result["n_samples"]),
             fmt(result["mean"], result["std"])]]
    runs = ["| split | seed | hidden layers | lr | valid | test |", "|---|---|---|---|---|---|"]
    runs += [f"| {r['split']} | {r['seed']} | {r['hidden_layers']} | {r['lr']:g} | "
             f"{'-' if r['valid'] is None else format(r['valid'], '.4f')} | {r['test']:.4f} |"
             for r in result["runs"]]
    note = f"\nValidation: {result['validation']}.\n" if result.get("validation") else ""
    return (markdown_table(header, rows, fixed=len(header)) + "\n" + "\n".join(runs) + "\n"
            + note)
