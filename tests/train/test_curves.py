"""Training curves: a PNG from metrics.jsonl, skipped steps as gaps, nothing from nothing."""

import json

import matplotlib.image as mpimg

from dubclr.train.curves import plot_curves, read_metrics


def test_curves_png_from_metrics_with_a_skipped_step_and_a_cut_line(tmp_path):
    rows = [{"step": s, "loss": 3.0 - 0.1 * s, "L": 3.0 - 0.1 * s, "L_v": 2.0, "L_a": 4.0,
             "lr": 1e-3, "clips_per_s": 10.0} for s in range(1, 6)]
    rows[2]["loss"] = rows[2]["L"] = None  # a skipped non-finite step is logged as null
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 6, "lo')
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 4, 5]
    out = plot_curves(path, tmp_path / "curves.png")
    image = mpimg.imread(out)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # something was drawn


def test_no_metrics_no_picture(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("")
    assert plot_curves(tmp_path / "metrics.jsonl", tmp_path / "curves.png") is None
    assert not (tmp_path / "curves.png").exists()
