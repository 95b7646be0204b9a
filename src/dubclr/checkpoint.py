"""Checkpoint directories: the one format, the one atomic writer, the one search for the
newest valid checkpoint of a run. Below ``models`` and ``train``: it knows files, not models.

A checkpoint is a directory holding

- ``model.safetensors``: the weights;
- ``model.json``: ``{"format": "dubclr-model", "version": 1, "model": <ModelConfig as data>,
  "provenance": {...}}``, so a model is rebuilt from the directory alone;
- ``trainer.pt`` (training checkpoints only): the run state of every rank (plain data and
  tensors, read back with ``torch.load(weights_only=True)``);
- ``manifest.json``: size and SHA-256 of each file above.

A model directory (``save_model``, ``dubclr checkpoint convert``) and a training step
``RUN/checkpoints/step_XXXXXXXX/`` are the same format. Every one is written into a hidden
``.tmp-<name>-<pid>`` directory beside its destination, fsync'ed, then renamed into place
(:func:`dubclr.atomic.publish_dir`), so a directory under its final name is always complete;
one damaged later (disk error, hand editing) fails its manifest check.

Reading, from a path to tensors::

    resolve_checkpoint(path)    the directory a path means: itself, or a run's newest valid step
    read_model_meta(directory)  model.json, checked
    read_model_weights(path)    the tensors of model.safetensors
    read_trainer_state(path)    trainer.pt

(``dubclr.models.checkpoint.load_model`` builds the model from these.)
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dubclr import __version__
from dubclr.atomic import publish_dir, sha256_file
from dubclr.config import to_dict
from dubclr.errors import CheckpointError

FORMAT = "dubclr-model"
VERSION = 1
MODEL_WEIGHTS = "model.safetensors"
MODEL_JSON = "model.json"
TRAINER_STATE = "trainer.pt"
MANIFEST = "manifest.json"
MODEL_FILES = (MODEL_WEIGHTS, MODEL_JSON)
_STEP_NAME = re.compile(r"^step_(\d{8,})$")
_TMP_PREFIX = ".tmp-"

# ---- writing ------------------------------------------------------------------------


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A plain CPU state dict (safetensors wants contiguous, unshared tensors)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def write_checkpoint(directory: str | Path, weights: dict[str, torch.Tensor], model_config: Any,
                     provenance: dict[str, Any] | None = None, *,
                     trainer_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint directory atomically (replacing one already there) and return it.

    ``model_config`` is the model's config dataclass (stored as data in ``model.json``);
    ``trainer_state`` becomes ``trainer.pt``."""
    final = Path(directory)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{_TMP_PREFIX}{final.name}-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        meta = {"format": FORMAT, "version": VERSION, "model": to_dict(model_config),
                "provenance": {"dubclr_version": __version__,
                               "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                                   timespec="seconds"),
                               **(provenance or {})}}
        save_file(weights, str(tmp / MODEL_WEIGHTS), metadata={"format": "pt"})
        (tmp / MODEL_JSON).write_text(json.dumps(meta, indent=2) + "\n")
        files = list(MODEL_FILES)
        if trainer_state is not None:
            torch.save(trainer_state, tmp / TRAINER_STATE)
            files.append(TRAINER_STATE)
        manifest = {name: {"bytes": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)}
                    for name in files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        return publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---- a run's checkpoints ------------------------------------------------------------


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Finished ``step_*`` directories under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if p.is_dir() and (m := _STEP_NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def prune_checkpoints(root: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` checkpoints, and temporaries that another
    (killed) process left behind."""
    root = Path(root)
    removed = list_checkpoints(root)[:-keep_last]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(f"{_TMP_PREFIX}step_*"):
        if not path.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(path, ignore_errors=True)
    return removed


def verify_checkpoint(path: str | Path, require: tuple[str, ...] = MODEL_FILES) -> None:
    """Raise CheckpointError unless ``require`` are listed in the manifest and every file
    listed matches its size and SHA-256."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: no readable {MANIFEST} ({exc})") from None
    for name in require:
        if name not in manifest:
            raise CheckpointError(f"{path}: {name} is missing")
    for name, entry in manifest.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{path}: {name} is missing")
        if file.stat().st_size != entry["bytes"] or sha256_file(file) != entry["sha256"]:
            raise CheckpointError(f"{path}: {name} does not match its manifest (damaged)")


def newest_valid_checkpoint(root: str | Path, require: tuple[str, ...] = MODEL_FILES,
                            warn: Callable[[str], None] | None = None) -> Path | None:
    """The newest ``step_*`` directory under ``root`` that verifies; damaged ones are
    skipped with a warning naming them. None when there is none."""
    warn = warn or (lambda msg: warnings.warn(msg, stacklevel=3))
    for path in reversed(list_checkpoints(root)):
        try:
            verify_checkpoint(path, require)
            return path
        except CheckpointError as exc:
            warn(f"skipping checkpoint {path.name}: {exc}")
    return None


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint directory ``path`` means: a directory holding ``model.safetensors``
    (or its ``model.json`` / weights file), else the newest valid checkpoint of a run
    directory (``RUN/checkpoints/step_*``) or of a ``checkpoints`` folder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_file() and path.name in MODEL_FILES:
        path = path.parent
    if (path / MODEL_WEIGHTS).is_file() or (path / MODEL_JSON).is_file():
        return path
    for root in (path / "checkpoints", path):
        found = newest_valid_checkpoint(root)
        if found is not None:
            return found
    raise CheckpointError(f"{path}: no {MODEL_WEIGHTS} there and no valid checkpoint under it; "
                          "give a checkpoint or run directory (a dubclr checkpoint is a directory "
                          f"with {MODEL_WEIGHTS} and {MODEL_JSON}; convert authors' files with "
                          "`dubclr checkpoint convert`)")


# ---- reading files ------------------------------------------------------------------


def read_model_meta(directory: str | Path) -> dict[str, Any]:
    """``model.json`` of a checkpoint directory, its format and version checked."""
    file = Path(directory) / MODEL_JSON
    if not file.is_file():
        raise CheckpointError(f"{directory}: no {MODEL_JSON}; a dubclr checkpoint is a directory "
                              f"with {MODEL_WEIGHTS} and {MODEL_JSON} (convert authors' files "
                              f"with `dubclr checkpoint convert`)")
    try:
        meta = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{file}: not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"{file}: format {meta.get('format')!r} version "
                              f"{meta.get('version')!r}, expected {FORMAT!r} version {VERSION}")
    return meta


def read_model_weights(path: str | Path, device: str | torch.device = "cpu"
                       ) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint directory's ``model.safetensors`` (or of that file)."""
    file = Path(path) / MODEL_WEIGHTS if Path(path).is_dir() else Path(path)
    try:
        return load_file(str(file), device=str(device))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{file}: cannot be read as safetensors ({exc})") from None


def read_trainer_state(path: str | Path) -> dict[str, Any]:
    file = Path(path) / TRAINER_STATE
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means: not a state we trust
        raise CheckpointError(f"{file}: cannot be read as a training state ({exc})") from None
