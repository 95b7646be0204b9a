"""A pretraining run: build or restore the run state, loop over optimizer steps, log,
checkpoint. The path from a loader batch to ``optimizer.step()`` is this file's loop,
``step.py`` and ``../loss.py``; where the state lives is ``../state.py``.

The model, the loader and the transforms are built from the config, or passed in (tests
use an in-memory dataset; a notebook may pass its own model). Every rank runs the same
code; only rank 0 writes files.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dubclr.config import save_config, to_dict
from dubclr.progress import progress
from dubclr.train.checkpoint import find_resume_point, restore_run_state, save_run_state
from dubclr.train.config import TrainConfig
from dubclr.train.distributed import DistEnv, all_reduce_sum, barrier, setup, teardown
from dubclr.train.guards import NonFiniteGuard, StopSignals
from dubclr.train.loop.step import StepResult, TrainStep
from dubclr.train.loss import DubContrastiveLoss
from dubclr.train.metrics import MetricsLog, Throughput, peak_flops
from dubclr.train.state import RunState, autocast_dtype, build_run_state, wrap_model

TERMS = ("loss", "L", "L_v", "L_a")


@dataclass
class TrainResult:
    run_dir: Path
    start_step: int  # 0, or the step it resumed from
    step: int
    total_steps: int
    last_checkpoint: Path | None
    metrics_path: Path
    stopped_by: str | None  # the signal's name when a signal ended the run
    skipped_steps: int
    seconds: float
    clips: int  # instances seen by this run (all ranks), since its start or resume


class Trainer:
    """``Trainer(cfg).fit()``; afterwards ``.model`` is the trained model and ``.state``
    the run state (also when both were built from the config)."""

    def __init__(self, cfg: TrainConfig, *, model: nn.Module | None = None, loader: Any = None,
                 transforms: tuple[nn.Module | None, nn.Module | None] | None = None,
                 resume: str | Path | None = None, resume_with_changes: bool = False,
                 env: DistEnv | None = None, show_progress: bool = True) -> None:
        self.cfg = cfg
        self.model = model
        self.loader = loader
        self.transforms = transforms
        self.resume = resume
        self.resume_with_changes = resume_with_changes  # else a changed config is an error
        self.env = env
        self.show_progress = show_progress
        self.run_dir = Path(cfg.run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.state: RunState | None = None

    def fit(self) -> TrainResult:
        env = self.env or setup(self.cfg.device, timeout_s=self.cfg.dist_timeout_s)
        try:
            return self._fit(env)
        finally:
            if self.env is None:
                teardown()

    def _fit(self, env: DistEnv) -> TrainResult:
        cfg = self.cfg
        # the one seeding: the model's initialisation (DDP broadcasts rank 0's) and its
        # random layers; the state holds the generator from here on
        torch.manual_seed(cfg.seed + env.rank)
        resume_from = find_resume_point(self.ckpt_dir, self.resume, env)
        state = build_run_state(cfg, env, model=self.model, loader=self.loader,
                                transforms=self.transforms, initialise=resume_from is None)
        previous, changes = {}, []
        if resume_from is not None:
            previous, changes = restore_run_state(
                state, resume_from, env, config=to_dict(cfg),
                allow_changes=self.resume_with_changes)
            if env.is_main:
                print(f"dubclr: resuming from {resume_from} (step {state.step})", file=sys.stderr)
        self.model, self.state = state.model, state
        loss = DubContrastiveLoss(cfg.loss, cfg.data.dub_policy.loss_terms)
        step = TrainStep(wrap_model(state.model, cfg, env), loss, state.optimizer, env,
                         transforms=state.transforms, grad_clip=cfg.optim.grad_clip,
                         autocast_dtype=autocast_dtype(cfg, env.device))
        log = None
        if env.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if changes:
                self._keep_previous_config(previous, state.step, changes)
            save_config(cfg, self.run_dir / "config.yaml")
            log = MetricsLog(self.run_dir, state.step if resume_from else None, cfg.log.tensorboard)
        barrier()
        try:
            return self._loop(state, step, env, log, resume_from)
        finally:
            if log is not None:
                log.close()

    def _loop(self, state: RunState, step: TrainStep, env: DistEnv, log: MetricsLog | None,
              last_ckpt: Path | None) -> TrainResult:
        cfg, accum = self.cfg, self.cfg.optim.accum_steps
        per_epoch = state.optimizer_steps_per_epoch
        stop_at = min(state.total_steps, cfg.schedule.max_steps or state.total_steps)
        guard = NonFiniteGuard(cfg.max_nonfinite_in_a_row)
        started, first_step = time.perf_counter(), state.step
        meter, clips, stopped_by = Throughput(), 0, None
        peak, flops_per_step = peak_flops(env.device), None
        bar = progress(total=stop_at, initial=state.step, desc=cfg.name or "train", unit="step",
                       disable=None if (self.show_progress and env.is_main) else True)
        with StopSignals() as signals, bar:
            while state.step < stop_at and stopped_by is None:
                epoch, position = divmod(state.step, per_epoch)
                state.loader.set_epoch(epoch)  # a new epoch from its start; the current one
                batches = iter(state.loader)  # (resumed) from its place
                for _ in range(position, per_epoch):
                    micro_batches = [next(batches) for _ in range(accum)]
                    if peak and flops_per_step is None:  # MFU, on GPUs
                        flops_per_step = step.count_flops(state.model, micro_batches[0], accum)
                    lr = state.scheduler.lr
                    result = step.run(micro_batches, signals.requested is not None)
                    state.scheduler.step()
                    state.step += 1
                    state.skipped_steps += 0 if result.finite else 1
                    clips += result.count * env.world_size
                    meter.add(result.count * env.world_size)
                    bar.update(1)
                    guard.record(state.step, result.finite, str(last_ckpt) if last_ckpt else None)
                    if (state.step % cfg.log.every_steps == 0 or state.step == stop_at
                            or result.stop):
                        mfu_flops = flops_per_step / peak if peak and flops_per_step else None
                        self._log(state, env, lr, result, meter, bar, log, started, mfu_flops)
                    # no periodic checkpoint inside a run of skipped steps: the older,
                    # good ones must not be pruned away if the run is diverging
                    every, epoch_end = cfg.checkpoint.every_steps, state.step % per_epoch == 0
                    periodic = guard.in_a_row == 0 and (
                        (every and state.step % every == 0)
                        or (epoch_end and cfg.checkpoint.at_epoch_end))
                    if (periodic or state.step == stop_at
                            or (result.stop and cfg.checkpoint.on_signal)):
                        last_ckpt = self._save(state, env)
                    if result.stop:
                        stopped_by = signals.requested or "a signal on another rank"
                        break
                    if state.step >= stop_at:
                        break
        return TrainResult(run_dir=self.run_dir, start_step=first_step, step=state.step,
                           total_steps=state.total_steps, last_checkpoint=last_ckpt,
                           metrics_path=self.run_dir / "metrics.jsonl", stopped_by=stopped_by,
                           skipped_steps=state.skipped_steps,
                           seconds=time.perf_counter() - started, clips=clips)

    def _keep_previous_config(self, previous: dict, step: int, changes: list[str]) -> None:
        """Resumed with changes: the config of steps 1..step stays beside the new one."""
        kept = self.run_dir / f"config.until_step_{step:08d}.yaml"
        save_config(previous, kept)
        print(f"dubclr: resuming with a changed config ({'; '.join(changes)}); the previous "
              f"one is kept as {kept}", file=sys.stderr)

    def _save(self, state: RunState, env: DistEnv) -> Path:
        cfg = self.cfg
        return save_run_state(state, env, self.ckpt_dir,
                              model_config=getattr(state.model, "config", cfg.model),
                              config=to_dict(cfg),
                              provenance={"run_dir": str(self.run_dir), "name": cfg.name,
                                          "data": cfg.data.preprocessing()},
                              keep_last=cfg.checkpoint.keep_last)

    def _log(self, state: RunState, env: DistEnv, lr: float, result: StepResult,
             meter: Throughput, bar, log: MetricsLog | None, started: float,
             mfu_flops: float | None) -> None:
        """All-reduce the step's sums (every rank) and write one record (rank 0)."""
        terms = [k for k in TERMS if k in result.sums]  # the same on every rank
        values = torch.tensor([float(result.sums[k]) for k in terms] + [float(result.count)],
                              dtype=torch.float64, device=env.device)
        values = all_reduce_sum(values).cpu().tolist()
        sums, count = values[:-1], values[-1]
        clips_s, s_per_step = meter.read()
        if log is None:
            return
        scale = 1.0 / count if self.cfg.loss.reduction == "mean" else 1.0
        rec: dict[str, Any] = {"step": state.step, "epoch": round(state.epoch, 4)}
        rec.update({k: _finite_or_none(v * scale) for k, v in zip(terms, sums)})
        rec.update(lr=lr, grad_norm=_finite_or_none(result.grad_norm),
                   clips_per_s=round(clips_s, 2), skipped_steps=state.skipped_steps,
                   time_s=round(time.perf_counter() - started, 2))
        if mfu_flops:
            rec["mfu"] = round(mfu_flops / s_per_step, 4)
        log.write(rec)
        shown = {k: f"{rec[k]:.4f}" for k in ("loss", "L_v", "L_a") if rec.get(k) is not None}
        shown.update(lr=f"{lr:.2e}", clips_s=f"{clips_s:.1f}")
        if "mfu" in rec:
            shown["mfu"] = f"{rec['mfu']:.1%}"
        bar.set_postfix(shown, refresh=False)


def _finite_or_none(value: float) -> float | None:
    """JSON has no NaN/inf: a skipped step's values are written as null."""
    return value if math.isfinite(value) else None
