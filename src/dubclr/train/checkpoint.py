"""Training checkpoints: atomic directories that survive a kill at any moment.

``RUN/checkpoints/step_XXXXXXXX/`` holds

- ``model.safetensors`` + ``model.json``: the model in dubclr's model format, so
  ``dubclr.models.checkpoint.load_model`` reads a training checkpoint directly;
- ``trainer.pt``: optimizer, scheduler, sampler and RNG states, step, config (plain data
  and tensors only, read back with ``torch.load(weights_only=True)``);
- ``manifest.json``: size and SHA-256 of the files above, checked before a resume.

A checkpoint is written into a hidden temporary directory, every file and the directory
are fsync'ed, and only then is it renamed into place, so a directory named ``step_*`` is
always complete; a damaged one (disk error, hand editing) fails its manifest check and
``latest_valid`` falls back to the previous one with a warning.
"""

from __future__ import annotations

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
from safetensors.torch import load_file

from dubclr.atomic import publish_dir, sha256_file
from dubclr.errors import CheckpointError
from dubclr.models.checkpoint import model_state, write_model_files

MODEL_WEIGHTS = "model.safetensors"
MODEL_JSON = "model.json"
TRAINER_STATE = "trainer.pt"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^step_(\d{8,})$")


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Finished checkpoint directories under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def write_checkpoint(root: str | Path, step: int, model: torch.nn.Module, model_config: Any,
                     trainer_state: dict[str, Any], provenance: dict[str, Any] | None = None) -> Path:
    """Write ``root/step_XXXXXXXX`` atomically and return it (replaces one of the same step)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model_files = write_model_files(tmp, model_state(model), model_config,
                                    {"source": "dubclr train", "step": step, **(provenance or {})})
    torch.save(trainer_state, tmp / TRAINER_STATE)
    files = (*model_files, TRAINER_STATE)
    manifest = {name: {"bytes": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)}
                for name in files}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    publish_dir(tmp, final)  # replaces a checkpoint of the same step written before a resume
    return final


def prune(root: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` checkpoints, and stale temporaries."""
    root = Path(root)
    removed = []
    for path in list_checkpoints(root)[:-keep_last]:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    for path in root.glob(".tmp-step_*"):
        if not path.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(path, ignore_errors=True)  # left by a killed run
    return removed


def verify(path: str | Path) -> None:
    """Raise CheckpointError unless every file matches the manifest."""
    path = Path(path)
    if not (path / MANIFEST).exists() and not _NAME.match(path.name):
        inside = list_checkpoints(path / "checkpoints") or list_checkpoints(path)
        hint = (f"it holds checkpoints: give one, e.g. {inside[-1]}, or use --resume auto "
                "with run_dir set to the run" if inside else
                "expected a directory RUN/checkpoints/step_XXXXXXXX written by dubclr train")
        raise CheckpointError(f"{path}: not a training checkpoint; {hint}")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: no readable {MANIFEST} ({exc})") from None
    for name in (MODEL_WEIGHTS, MODEL_JSON, TRAINER_STATE):
        file = path / name
        entry = manifest.get(name)
        if entry is None or not file.is_file():
            raise CheckpointError(f"{path}: {name} is missing")
        if file.stat().st_size != entry["bytes"] or sha256_file(file) != entry["sha256"]:
            raise CheckpointError(f"{path}: {name} does not match its manifest (damaged)")


def read_trainer_state(path: str | Path) -> dict[str, Any]:
    file = Path(path) / TRAINER_STATE
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means: not a state we trust
        raise CheckpointError(f"{file}: cannot be read as a training state ({exc})") from None


def read_model_weights(path: str | Path) -> dict[str, torch.Tensor]:
    file = Path(path) / MODEL_WEIGHTS if Path(path).is_dir() else Path(path)
    try:
        return load_file(str(file))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{file}: cannot be read as safetensors ({exc})") from None


def latest_valid(root: str | Path, warn: Callable[[str], None] | None = None
                 ) -> tuple[Path, dict[str, Any], dict[str, torch.Tensor]] | None:
    """The newest checkpoint that verifies and loads, with its state and weights.

    Damaged ones are skipped with a warning; None when there is none."""
    warn = warn or (lambda msg: warnings.warn(msg, stacklevel=2))
    for path in reversed(list_checkpoints(root)):
        try:
            verify(path)
            return path, read_trainer_state(path), read_model_weights(path)
        except CheckpointError as exc:
            warn(f"skipping checkpoint {path.name}: {exc}")
    return None


def resolve_weights_source(path: str | Path) -> Path:
    """A directory holding model.safetensors: the path itself, or a run's newest valid one."""
    path = Path(path)
    if (path / MODEL_WEIGHTS).is_file():
        return path
    for root in (path / "checkpoints", path):
        for ckpt in reversed(list_checkpoints(root)):
            try:
                verify(ckpt)
                return ckpt
            except CheckpointError as exc:
                warnings.warn(f"skipping checkpoint {ckpt}: {exc}", stacklevel=2)
    raise CheckpointError(f"{path}: no {MODEL_WEIGHTS} there and no valid "
                          "checkpoint under it; give a checkpoint or run directory")


HEAD_PREFIXES = ("video_head.", "audio_head.")


def load_initial_weights(model: torch.nn.Module, path: str | Path, heads: str = "keep") -> Path:
    """Copy another run's weights into ``model`` (backbones always; heads if ``keep``).

    Every backbone tensor must be present with the same shape."""
    source = resolve_weights_source(path)
    weights = read_model_weights(source)
    own = model.state_dict()
    wanted = {k for k in own if heads == "keep" or not k.startswith(HEAD_PREFIXES)}
    missing = sorted(k for k in wanted if k not in weights)
    if missing:
        raise CheckpointError(f"init_from {source}: {len(missing)} tensors of this model are not "
                              f"in the checkpoint (first: {missing[0]}); is it the same towers?")
    bad = [k for k in wanted if weights[k].shape != own[k].shape]
    if bad:
        k = sorted(bad)[0]
        raise CheckpointError(f"init_from {source}: {k} has shape {tuple(weights[k].shape)}, "
                              f"this model expects {tuple(own[k].shape)}")
    model.load_state_dict({k: weights[k] for k in wanted}, strict=False)
    return source
