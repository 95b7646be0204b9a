"""A pretraining run: build, resume, loop over optimizer steps, log, checkpoint.

The model, the loader and the transforms are built from the config, or passed in (tests
use an in-memory dataset; a notebook may pass its own model). Every rank runs the same
code; only rank 0 writes files.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from dubclr.config import save_config, to_dict
from dubclr.errors import CheckpointError, ConfigError
from dubclr.models.checkpoint import load_weights
from dubclr.progress import progress
from dubclr.train import checkpoint as ckpt
from dubclr.train.config import TrainConfig
from dubclr.train.distributed import DistEnv, all_reduce_sum, barrier, setup, teardown
from dubclr.train.guards import NonFiniteGuard, StopSignals
from dubclr.train.loop.build import autocast_dtype, build_optimizer, prepare_model
from dubclr.train.loop.step import StepResult, StepRunner, embed_batch
from dubclr.train.loss import DubContrastiveLoss
from dubclr.train.metrics import MetricsLog, Throughput, count_training_flops, peak_flops
from dubclr.train.rng import capture_rng, restore_rng, seed_everything
from dubclr.train.schedule import WarmupCosine

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
    def __init__(self, cfg: TrainConfig, *, model: nn.Module | None = None, loader: Any = None,
                 transforms: tuple[nn.Module | None, nn.Module | None] | None = None,
                 resume: str | Path | None = None, env: DistEnv | None = None,
                 show_progress: bool = True) -> None:
        self.cfg = cfg
        self.model = model
        self.loader = loader
        self.transforms = transforms
        self.resume = resume
        self.env = env
        self.show_progress = show_progress
        self.run_dir = Path(cfg.run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"

    def fit(self) -> TrainResult:
        env = self.env or setup(self.cfg.device, timeout_s=self.cfg.dist_timeout_s)
        try:
            return self._fit(env)
        finally:
            if self.env is None:
                teardown()

    # -- resume ------------------------------------------------------------------------

    def _find_resume_point(self, env: DistEnv):
        if self.resume is None:
            if ckpt.list_checkpoints(self.ckpt_dir):
                raise ConfigError(f"{self.ckpt_dir} already holds checkpoints; continue that run "
                                  "with --resume auto, or set another run_dir")
            return None
        warn = (lambda m: print(f"dubclr: warning: {m}", file=sys.stderr)) if env.is_main \
            else (lambda m: None)
        if str(self.resume) == "auto":
            found = ckpt.latest_valid(self.ckpt_dir, warn=warn)
            if found is None and env.is_main:
                print(f"dubclr: no checkpoint under {self.ckpt_dir}: starting a new run",
                      file=sys.stderr)
            return found
        path = Path(self.resume)
        ckpt.verify(path)
        return path, ckpt.read_trainer_state(path), ckpt.read_model_weights(path)

    def _restore(self, state: dict, env: DistEnv, optimizer, scheduler, loader) -> None:
        if state.get("format") != "dubclr-trainer":
            raise CheckpointError("trainer.pt is not a dubclr training state")
        ranks = state["ranks"]
        if len(ranks) != env.world_size:
            raise CheckpointError(f"the checkpoint was written by {len(ranks)} processes; resume "
                                  f"it with the same number (this run has {env.world_size})")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(ranks[env.rank]["rng"])
        self._loader_state = ranks[env.rank]["loader"]

    def _trainer_state(self, env: DistEnv, step: int, spe: int, optimizer, scheduler, loader,
                       guard: NonFiniteGuard) -> dict | None:
        mine = {"rng": capture_rng(), "loader": loader.state_dict()}
        ranks = [mine]
        if env.distributed:
            ranks = [None] * env.world_size
            dist.all_gather_object(ranks, mine)
        if not env.is_main:
            return None
        return {"format": "dubclr-trainer", "version": 1, "step": step, "epoch": step / spe,
                "steps_per_epoch": spe, "world_size": env.world_size,
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "ranks": ranks, "nonfinite_total": guard.total, "config": to_dict(self.cfg)}

    # -- the run -------------------------------------------------------------------------

    def _build_parts(self, env: DistEnv):
        cfg = self.cfg
        raw = self.model
        if raw is None:
            from dubclr.models.av import build_model

            raw = build_model(cfg.model)
        loader = self.loader
        if loader is None:
            from dubclr.data import build_train_loader

            loader = build_train_loader(cfg.data, rank=env.rank, world_size=env.world_size,
                                        seed=cfg.seed)
        transforms = self.transforms
        if transforms is None:
            from dubclr.data.transforms import build_transforms

            transforms = build_transforms(cfg.data, train=True)
        video_tf, audio_tf = (t.to(env.device) if t is not None else None for t in transforms)
        return raw, loader, video_tf, audio_tf

    def _fit(self, env: DistEnv) -> TrainResult:
        cfg = self.cfg
        seed_everything(cfg.seed)
        raw, loader, video_tf, audio_tf = self._build_parts(env)
        found = self._find_resume_point(env)
        if found is not None:
            try:
                load_weights(raw, found[2], where=f"resume from {found[0]}")
            except CheckpointError as exc:
                raise CheckpointError(f"{exc}. The model config differs from the run's: resume "
                                      "with the same model.* settings, or use a new run_dir") from None
        elif cfg.init_from is not None:
            source = ckpt.load_initial_weights(raw, cfg.init_from.path, cfg.init_from.heads)
            if env.is_main:
                print(f"dubclr: initialised from {source} (heads: {cfg.init_from.heads})",
                      file=sys.stderr)
        model, raw = prepare_model(raw, cfg, env)
        optimizer = build_optimizer(raw, cfg.optim)
        accum = cfg.optim.accum_steps
        spe = len(loader) // accum
        if spe < 1:
            raise ConfigError(f"the training data gives {len(loader)} batches per epoch, fewer "
                              f"than optim.accum_steps={accum}; use more data or smaller batches")
        total = max(1, math.ceil(cfg.schedule.epochs * spe))
        scheduler = WarmupCosine(optimizer, cfg.optim.lr, total,
                                 round(cfg.schedule.warmup_epochs * spe), cfg.schedule.min_lr_ratio)
        guard = NonFiniteGuard(cfg.max_nonfinite_in_a_row)
        self._loader_state = None
        step = 0
        last_ckpt: Path | None = None
        seed_everything(cfg.seed + env.rank)  # augmentation streams differ across ranks
        if found is not None:
            path, state, _ = found
            self._restore(state, env, optimizer, scheduler, loader)
            step, guard.total, last_ckpt = int(state["step"]), int(state["nonfinite_total"]), path
            if state.get("steps_per_epoch") != spe:
                warnings.warn(f"steps per epoch changed from {state.get('steps_per_epoch')} to "
                              f"{spe} since the checkpoint; the data order will differ", stacklevel=2)
            if env.is_main:
                print(f"dubclr: resuming from {path} (step {step})", file=sys.stderr)
        stop_at = min(total, cfg.schedule.max_steps or total)
        log = None
        if env.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.run_dir / "config.yaml")
            log = MetricsLog(self.run_dir, step if found is not None else None, cfg.log.tensorboard)
        barrier()
        runner = StepRunner(model, DubContrastiveLoss(cfg.loss), optimizer, env,
                            video_tf=video_tf, audio_tf=audio_tf, grad_clip=cfg.optim.grad_clip,
                            autocast_dtype=autocast_dtype(cfg, env.device))
        loop = _Loop(self, env, runner, raw, loader, scheduler, guard, log, spe, stop_at, total)
        try:
            return loop.run(step, last_ckpt)
        finally:
            if log is not None:
                log.close()


def _finite_or_none(value: float) -> float | None:
    """JSON has no NaN/inf: a skipped step's values are written as null."""
    return value if math.isfinite(value) else None


class _Loop:
    """The step loop of one ``Trainer.fit`` call (kept apart to keep each part short)."""

    def __init__(self, trainer: Trainer, env: DistEnv, runner: StepRunner, raw: nn.Module,
                 loader, scheduler: WarmupCosine, guard: NonFiniteGuard, log: MetricsLog | None,
                 spe: int, stop_at: int, total: int) -> None:
        self.t, self.env, self.runner, self.raw = trainer, env, runner, raw
        self.loader, self.scheduler, self.guard, self.log = loader, scheduler, guard, log
        self.spe, self.stop_at, self.total = spe, stop_at, total
        self.cfg = trainer.cfg
        self.flops_per_step: float | None = None
        self.peak = peak_flops(env.device)

    def save(self, step: int) -> Path:
        cfg, env = self.cfg, self.env
        state = self.t._trainer_state(env, step, self.spe, self.runner.optimizer, self.scheduler,
                                      self.loader, self.guard)
        path = self.t.ckpt_dir / ckpt.checkpoint_name(step)
        if env.is_main:
            ckpt.write_checkpoint(self.t.ckpt_dir, step, self.raw,
                                  getattr(self.raw, "config", cfg.model), state,
                                  provenance={"run_dir": str(self.t.run_dir), "name": cfg.name})
            ckpt.prune(self.t.ckpt_dir, cfg.checkpoint.keep_last)
        barrier()
        return path

    def measure_flops(self, batch: dict) -> None:
        """FLOPs of one step for MFU (GPU only), on a forward that changes no state."""
        if self.peak is None:
            return
        r = self.runner
        self.raw.eval()
        with torch.random.fork_rng(devices=[self.env.device.index]):
            self.flops_per_step = count_training_flops(
                embed_batch, self.raw, batch, r.video_tf, r.audio_tf, self.env.device,
                r._autocast()) * self.cfg.optim.accum_steps
        self.raw.train()

    def record(self, step: int, lr: float, result: StepResult, meter: Throughput,
               bar, started: float) -> None:
        terms = [k for k in TERMS if k in result.sums]  # the same on every rank
        values = torch.tensor([float(result.sums[k]) for k in terms] + [float(result.count)],
                              dtype=torch.float64, device=self.env.device)
        values = all_reduce_sum(values).cpu().tolist()
        sums, count = values[:-1], values[-1]
        clips_s, s_per_step = meter.read()
        if self.log is None:
            return
        scale = 1.0 / count if self.cfg.loss.reduction == "mean" else 1.0
        rec: dict[str, Any] = {"step": step, "epoch": round(step / self.spe, 4)}
        rec.update({k: _finite_or_none(v * scale) for k, v in zip(terms, sums)})
        rec.update(lr=lr, grad_norm=_finite_or_none(result.grad_norm),
                   clips_per_s=round(clips_s, 2),
                   skipped_steps=self.guard.total, time_s=round(time.perf_counter() - started, 2))
        if self.flops_per_step and self.peak:
            rec["mfu"] = round(self.flops_per_step / s_per_step / self.peak, 4)
        self.log.write(rec)
        shown = {k: f"{rec[k]:.4f}" for k in ("loss", "L_v", "L_a") if rec.get(k) is not None}
        shown.update(lr=f"{lr:.2e}", clips_s=f"{clips_s:.1f}")
        if "mfu" in rec:
            shown["mfu"] = f"{rec['mfu']:.1%}"
        bar.set_postfix(shown, refresh=False)

    def run(self, step: int, last_ckpt: Path | None) -> TrainResult:
        cfg, env, accum = self.cfg, self.env, self.cfg.optim.accum_steps
        started = time.perf_counter()
        meter, first_step, clips = Throughput(), step, 0
        stopped_by = None
        bar = progress(total=self.stop_at, initial=step, desc=cfg.name or "train", unit="step",
                       disable=None if (self.t.show_progress and env.is_main) else True)
        with StopSignals() as signals, bar:
            while step < self.stop_at and stopped_by is None:
                epoch, position = divmod(step, self.spe)
                if self.t._loader_state is not None:  # resumed: the saved place...
                    self.loader.load_state_dict(self.t._loader_state)
                    self.t._loader_state = None
                self.loader.set_epoch(epoch)  # ...kept within its epoch, else a new epoch
                # the loader seeds its workers from its own generator: iterating it leaves
                # the training RNG stream alone (bitwise resume mid-epoch relies on it)
                batches_iter = iter(self.loader)
                for _ in range(position, self.spe):
                    batches = [next(batches_iter) for _ in range(accum)]
                    if step == first_step:
                        self.measure_flops(batches[0])
                    lr = self.scheduler.lr
                    result = self.runner.run(batches, signals.requested is not None)
                    self.scheduler.step()
                    step += 1
                    clips += result.count * env.world_size
                    meter.add(result.count * env.world_size)
                    bar.update(1)
                    self.guard.record(step, result.finite, str(last_ckpt) if last_ckpt else None)
                    if step % cfg.log.every_steps == 0 or step == self.stop_at or result.stop:
                        self.record(step, lr, result, meter, bar, started)
                    epoch_end = step % self.spe == 0
                    every = cfg.checkpoint.every_steps
                    # no periodic checkpoint inside a run of skipped steps: the older,
                    # good ones must not be pruned away if the run is diverging
                    periodic = self.guard.in_a_row == 0 and (
                        (every and step % every == 0) or (epoch_end and cfg.checkpoint.at_epoch_end))
                    if periodic or step == self.stop_at or (result.stop and cfg.checkpoint.on_signal):
                        last_ckpt = self.save(step)
                    if result.stop:
                        stopped_by = signals.requested or "a signal on another rank"
                        break
                    if step >= self.stop_at:
                        break
        return TrainResult(run_dir=self.t.run_dir, start_step=first_step, step=step,
                           total_steps=self.total,
                           last_checkpoint=last_ckpt, metrics_path=self.t.run_dir / "metrics.jsonl",
                           stopped_by=stopped_by, skipped_steps=self.guard.total,
                           seconds=time.perf_counter() - started, clips=clips)
