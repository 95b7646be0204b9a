"""Evaluation speed: probe training with one thread vs the default, and HEAR embeddings.

    .venv/bin/python benchmarks/evaluate_speed.py

Prints a table. Each figure is compared with a baseline measured in the same run (a
ratio), so it survives a noisy shared machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "evaluate"))


def _median(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def probe_threads() -> list[tuple[str, float, str]]:
    from dubclr.evaluate import probes
    from dubclr.evaluate.probe_data import build_dataset

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 100)
    x = rng.normal(size=(400, 64)).astype(np.float32)
    rows = [{"file": str(i), "label": int(c), "split": ("train", "valid", "test")[i % 5 % 3]}
            for i, c in enumerate(y)]
    data = build_dataset(x, rows)
    cfg = probes.ProbeConfig(hidden_dim=256, max_epochs=30, patience=30, seeds=(0,),
                             learning_rates=(1e-3,), hidden_layers=(1,), batch_size=64)
    saved = probes.SMALL_PROBLEM
    probes.SMALL_PROBLEM = 0  # never drop to one thread: the baseline
    multi = _median(lambda: probes.run_probe(data, cfg))
    probes.SMALL_PROBLEM = saved
    single = _median(lambda: probes.run_probe(data, cfg))
    return [(f"probe 400x64, {torch.get_num_threads()} threads (baseline)", multi, "1.00"),
            ("probe 400x64, 1 thread (used for small problems)", single, f"{multi / single:.2f}x")]


def hear_speed() -> list[tuple[str, float, str]]:
    from conftest import make_tiny_model
    from dubclr import hear
    from dubclr.evaluate.encoder import Encoder

    model = hear.HearModel(Encoder(make_tiny_model(0)))
    audio = torch.rand(1, 10 * hear.sample_rate) * 2 - 1
    scene = _median(lambda: hear.get_scene_embeddings(audio, model))
    stamps = _median(lambda: hear.get_timestamp_embeddings(audio, model))
    n = hear.get_timestamp_embeddings(audio, model)[0].shape[1]
    return [("HEAR scene, 10 s, tiny tower (baseline)", scene, "1.00"),
            (f"HEAR timestamps, 10 s -> {n} windows", stamps, f"{stamps / scene:.1f}x slower")]


def main() -> None:
    rows = probe_threads() + hear_speed()
    print("| measurement | seconds (median of 3) | vs baseline |\n|---|---|---|")
    for name, sec, ratio in rows:
        print(f"| {name} | {sec:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
