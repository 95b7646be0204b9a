"""Training the controlled study's runs: every variant x seed for the same number of steps.

:func:`train_variant` is the one place that knows how a study model is trained (a config
from ``configs/study``, the catalog, and where the data is read from: the originals, or
prepared shards through ``data.shards``). :func:`train_runs` trains a list of runs,
``parallel`` at a time, each in its own process with one torch thread: a tiny model's step
does not spread over two threads (two threads took twice the CPU), so two runs side by side
are what keeps two cores busy once loading is cheap.
"""

from __future__ import annotations

import json
import math
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    run_dir: Path


def run_dir_for(out: Path, variant: str, seed: int, steps: int, data: str) -> Path:
    """`OUT/runs/<steps>steps-<data>/<variant>-s<seed>`: runs that read their data
    differently are different runs (a resumed run must keep its config)."""
    return out / "runs" / f"{steps}steps-{data}" / f"{variant}-s{seed}"


def config_path(configs: Path, variant: str) -> Path:
    """`configs/<variant>.yaml`; ConfigError naming the folder's variants when missing."""
    from dubclr.errors import ConfigError

    path = configs / f"{variant}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in configs.glob("[!_]*.yaml")) if configs.is_dir() else []
        raise ConfigError(f"no config for variant {variant!r}: {path} not found (variants in "
                          f"{configs}: {', '.join(known) or 'none'})")
    return path


def finished_checkpoint(run_dir: Path, steps: int) -> Path | None:
    """The run's checkpoint at `steps` when it has one (a finished run)."""
    path = run_dir / "checkpoints" / f"step_{steps:08d}"
    return path if (path / "model.safetensors").is_file() else None


def train_variant(variant: str, seed: int, catalog: Path, run_dir: Path, steps: int, *,
                  configs: Path = Path("configs/study"), overrides: tuple[str, ...] = (),
                  show_progress: bool = True) -> Path:
    """Train (or finish training) one variant with one seed for `steps` optimizer steps;
    returns its last checkpoint. The config's epochs (10, half an epoch of warm-up) are
    kept by making an epoch `steps / epochs` steps long."""
    from dubclr.config import load_config
    from dubclr.errors import ConfigError
    from dubclr.train.config import TrainConfig
    from dubclr.train.loop import Trainer

    path = config_path(configs, variant)
    base = [f"data.catalog={catalog}", f"run_dir={run_dir}", f"seed={seed}", *overrides]
    plain = load_config(TrainConfig, path, base)
    per_epoch = max(1, math.ceil(steps / plain.schedule.epochs))
    batches = per_epoch * plain.optim.accum_steps  # a batch per micro-batch of each step
    cfg = load_config(TrainConfig, path, [*base, f"data.sampler.batches_per_epoch={batches}",
                                          f"schedule.epochs={steps / per_epoch}"])
    result = Trainer(cfg, resume="auto", show_progress=show_progress).fit()
    if result.last_checkpoint is None or result.step < steps:
        raise ConfigError(f"run {run_dir} stopped at step {result.step} of {steps}"
                          + (f" ({result.stopped_by})" if result.stopped_by else ""))
    return result.last_checkpoint


def train_runs(runs: list[Run], catalog: Path, steps: int, *, configs: Path,
               overrides: tuple[str, ...], parallel: int, threads: int,
               show_progress: bool = True) -> dict[Run, Path]:
    """Each run's checkpoint at `steps`, training the unfinished ones in order, `parallel`
    at a time (1: in this process, with its own progress bar). The first failure stops
    the rest and is raised."""
    done = {run: ckpt for run in runs if (ckpt := finished_checkpoint(run.run_dir, steps))}
    todo = [run for run in runs if run not in done]
    args = dict(configs=configs, overrides=overrides)
    if parallel <= 1 or len(todo) <= 1:
        for run in todo:
            done[run] = train_variant(run.variant, run.seed, catalog, run.run_dir, steps,
                                      show_progress=show_progress, **args)
        return done
    from dubclr.progress import progress

    bar = progress(total=len(todo) * steps, desc=f"train {len(todo)} runs, {parallel} at once",
                   unit="step", disable=None if show_progress else True)
    pending: dict[Future, Run] = {}
    queue = list(todo)
    # spawn, not fork: a forked torch process can deadlock in its thread pools; each child
    # imports torch once (~5 CPU-s) and trains its share of the runs
    with ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            while queue or pending:
                while queue and len(pending) < parallel:
                    run = queue.pop(0)
                    pending[pool.submit(_train_child, run, catalog, steps, threads, args,
                                          multiprocessing.get_start_method())] = run
                finished, _ = wait(pending, timeout=2.0, return_when=FIRST_COMPLETED)
                for future in finished:
                    done[pending.pop(future)] = future.result()  # raises the run's error
                bar.n = sum(steps if r in done else _logged_step(r.run_dir) for r in todo)
                bar.refresh()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        finally:
            bar.close()
    return {run: done[run] for run in runs}


def _train_child(run: Run, catalog: Path, steps: int, threads: int, args: dict,
                 start_method: str) -> Path:
    import torch

    # a spawned process defaults to "spawn": its loader workers would each import torch
    # again, every epoch. They start as this platform starts `dubclr train`'s (Linux: fork)
    multiprocessing.set_start_method(start_method, force=True)
    torch.set_num_threads(threads)
    return train_variant(run.variant, run.seed, catalog, run.run_dir, steps,
                         show_progress=False, **args)


def _logged_step(run_dir: Path) -> int:
    """The last step a run has logged to its metrics.jsonl (0 when none yet)."""
    path = run_dir / "metrics.jsonl"
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 4096))
            lines = handle.read().decode("utf-8", "replace").strip().splitlines()
        return int(json.loads(lines[-1]).get("step", 0)) if lines else 0
    except (OSError, ValueError):
        return 0
