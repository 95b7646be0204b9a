"""Training curves as a picture: ``RUN/curves.png`` from ``RUN/metrics.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

PANELS = (  # (title, metrics drawn in it)
    ("objective", ("loss", "L")),
    ("within-modal terms (logged even when their weight is 0)", ("L_v", "L_a")),
    ("learning rate", ("lr",)),
    ("throughput (clips/s)", ("clips_per_s",)),
)


def read_metrics(path: str | Path) -> list[dict]:
    """The JSON lines of a metrics file; a line cut by a kill is skipped."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def plot_curves(metrics_path: str | Path, out_path: str | Path) -> Path | None:
    """Draw loss, L_v/L_a, lr and throughput against the step; None when nothing is logged.

    Skipped (non-finite) steps are logged as null and leave gaps in the lines."""
    rows = read_metrics(metrics_path)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(8, 2.2 * len(PANELS)), sharex=True)
    for ax, (title, keys) in zip(axes, PANELS):
        for key in keys:
            if any(key in r for r in rows):
                values = [r.get(key) for r in rows]
                ax.plot(steps, [float("nan") if v is None else v for v in values], label=key,
                        linewidth=1.2)
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("step")
    fig.suptitle(str(Path(metrics_path).parent.name), fontsize=10)
    fig.tight_layout()
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=90)
    plt.close(fig)
    return out_path
