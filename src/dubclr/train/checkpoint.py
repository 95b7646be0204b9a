"""A run's checkpoints: its :class:`RunState` written to, and read from,
``RUN/checkpoints/step_XXXXXXXX/`` in the one checkpoint format (:mod:`dubclr.checkpoint`).

A training checkpoint is a model checkpoint (so ``load_model`` reads it) plus ``trainer.pt``:
``{"format": "dubclr-trainer", "version": 1, "step", "epoch", "optimizer_steps_per_epoch",
"world_size", "skipped_steps", "optimizer", "scheduler", "ranks": [per rank: {"loader",
"rng"}], "config"}``, plain data and tensors only. Rank 0 writes it through the same atomic
writer as every checkpoint, after gathering every rank's part.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import torch.distributed as dist

from dubclr.checkpoint import (
    MODEL_FILES,
    TRAINER_STATE,
    checkpoint_name,
    list_checkpoints,
    model_state,
    newest_valid_checkpoint,
    prune_checkpoints,
    read_model_weights,
    read_trainer_state,
    verify_checkpoint,
    write_checkpoint,
)
from dubclr.errors import CheckpointError, ConfigError
from dubclr.models.checkpoint import load_weights_into
from dubclr.train.distributed import DistEnv, barrier
from dubclr.train.state import RunState

TRAINER_FORMAT = "dubclr-trainer"
TRAINING_FILES = (*MODEL_FILES, TRAINER_STATE)
# Settings a resumed run may change without asking: where and how it runs, how often it logs
# and checkpoints, and where it stops early. Every other change alters what is trained.
RUNTIME_SETTINGS = ("run_dir", "name", "init_from", "device", "compile", "dist_timeout_s",
                    "max_nonfinite_in_a_row", "log", "checkpoint", "schedule.max_steps",
                    "data.num_workers", "data.prefetch_factor", "data.max_retries")


def save_run_state(state: RunState, env: DistEnv, root: Path, *, model_config: Any,
                   config: dict[str, Any], provenance: dict[str, Any], keep_last: int) -> Path:
    """Write ``root/step_XXXXXXXX`` (every rank calls it; rank 0 writes) and prune to the
    newest ``keep_last``."""
    ranks = [state.rank_state()]
    if env.distributed:
        ranks = [None] * env.world_size
        dist.all_gather_object(ranks, state.rank_state())
    path = root / checkpoint_name(state.step)
    if env.is_main:
        trainer = {"format": TRAINER_FORMAT, "version": 1, "epoch": state.epoch,
                   "optimizer_steps_per_epoch": state.optimizer_steps_per_epoch,
                   "world_size": env.world_size, "ranks": ranks, "config": config,
                   **state.shared_state()}
        write_checkpoint(path, model_state(state.model), model_config,
                         {"source": "dubclr train", "step": state.step, **provenance},
                         trainer_state=trainer)
        prune_checkpoints(root, keep_last)
    barrier()
    return path


def find_resume_point(root: Path, resume: str | Path | None, env: DistEnv) -> Path | None:
    """The checkpoint a run continues from: ``None`` starts a new run (refused when ``root``
    holds checkpoints), ``"auto"`` the newest valid one, a path that checkpoint."""
    if resume is None:
        if list_checkpoints(root):
            raise ConfigError(f"{root} already holds checkpoints; continue that run with "
                              "--resume auto, or set another run_dir")
        return None
    if str(resume) == "auto":
        warn = ((lambda m: print(f"dubclr: warning: {m}", file=sys.stderr)) if env.is_main
                else (lambda m: None))
        found = newest_valid_checkpoint(root, TRAINING_FILES, warn=warn)
        if found is None and env.is_main:
            print(f"dubclr: no checkpoint under {root}: starting a new run", file=sys.stderr)
        return found
    path = Path(resume)
    if not (path / "manifest.json").exists() and not path.name.startswith("step_"):
        inside = list_checkpoints(path / "checkpoints") or list_checkpoints(path)
        hint = (f"it holds checkpoints: give one, e.g. {inside[-1]}, or use --resume auto "
                "with run_dir set to the run" if inside else
                "expected a directory RUN/checkpoints/step_XXXXXXXX written by dubclr train")
        raise CheckpointError(f"{path}: not a training checkpoint; {hint}")
    verify_checkpoint(path, TRAINING_FILES)
    return path


def config_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: saved -> current`` for every setting that differs (runtime settings aside)."""
    old, new = _flatten(saved), _flatten(current)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if any(key == r or key.startswith(r + ".") for r in RUNTIME_SETTINGS):
            continue
        if old.get(key, "(unset)") != new.get(key, "(unset)"):
            changes.append(f"{key}: {old.get(key, '(unset)')!r} -> {new.get(key, '(unset)')!r}")
    return changes


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: list(tree) if isinstance(tree, tuple) else tree}


def restore_run_state(state: RunState, path: Path, env: DistEnv, *,
                      config: dict[str, Any] | None = None,
                      allow_changes: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Load a checkpoint into ``state``: weights, optimizer, schedule, this rank's loader
    place and generators. ``config`` (the run's, as plain data) is compared with the one
    the checkpoint was trained with: a difference is a ConfigError listing them unless
    ``allow_changes``. Returns the checkpoint's config and the differences."""
    trainer = read_trainer_state(path)
    if trainer.get("format") != TRAINER_FORMAT:
        raise CheckpointError(f"{path / TRAINER_STATE} is not a dubclr training state")
    changes = (config_changes(trainer["config"], config)
               if config is not None and trainer.get("config") else [])
    if changes and not allow_changes:
        listed = "\n  ".join(changes)
        raise ConfigError(
            f"the config differs from the one {path} was trained with:\n  {listed}\n"
            "Resume with the same settings (the run's config.yaml), or pass "
            "--resume-with-changes to continue under the new ones (the old config is kept "
            "beside it), or set another run_dir for a new run")
    ranks = trainer["ranks"]
    if len(ranks) != env.world_size:
        raise CheckpointError(f"the checkpoint was written by {len(ranks)} processes; resume "
                              f"it with the same number (this run has {env.world_size})")
    try:
        load_weights_into(state.model, read_model_weights(path), where=f"resume from {path}")
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}. The model config differs from the run's: resume "
                              "with the same model.* settings, or use a new run_dir") from None
    state.load(trainer, ranks[env.rank])
    saved = trainer.get("optimizer_steps_per_epoch", trainer.get("steps_per_epoch"))
    if saved != state.optimizer_steps_per_epoch:
        warnings.warn(f"optimizer steps per epoch changed from {saved} to "
                      f"{state.optimizer_steps_per_epoch} since the checkpoint; the data order "
                      "will differ", stacklevel=2)
    return trainer.get("config") or {}, changes
