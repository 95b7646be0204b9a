"""Models from checkpoints: ``load_model`` for any checkpoint, ``save_model`` for ours, and
the authors' released files.

The directory format, the atomic writer and the search for a run's newest valid checkpoint
live in :mod:`dubclr.checkpoint`; this module builds models from what it reads.

The authors' files are torch pickles with a ``model`` state dict whose backbone keys are
``backbone.net.video.*`` / ``backbone.net.audio.*``. They are read with
``torch.load(weights_only=True)``, which never runs code; a file that needs full
unpickling is refused unless the caller opts in with ``trust_pickle=True``.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dubclr.atomic import sha256_file
from dubclr.checkpoint import (
    MODEL_FILES,
    MODEL_WEIGHTS,
    model_state,
    read_model_meta,
    read_model_weights,
    resolve_checkpoint,
    write_checkpoint,
)
from dubclr.config import from_dict
from dubclr.errors import CheckpointError, ConfigError
from dubclr.models.av import AVModel, build_model
from dubclr.models.config import ModelConfig

TOWER_PREFIX = {"video": "net.video.", "audio": "net.audio."}


def save_model(model: AVModel, out_dir: str | Path, provenance: dict[str, Any] | None = None,
               *, overwrite: bool = False) -> Path:
    """Write ``model`` as a checkpoint directory, atomically."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise CheckpointError(f"{out_dir} already exists; pass overwrite=True (--overwrite) "
                              f"or choose another directory")
    return write_checkpoint(out_dir, model_state(model), model.config, provenance)


def load_model(path: str | Path, map_location: str | torch.device = "cpu", **authors: Any) -> AVModel:
    """Rebuild a model from our directory, a training checkpoint directory, a run directory
    (its newest valid checkpoint), or an authors' file.

    For an authors' file pass its config as ``authors_config=`` (release YAML) or
    ``video_config=`` / ``audio_config=`` (resolved per-tower JSON), and optionally
    ``trust_pickle=True``.
    """
    path = Path(path)
    if path.is_file() and path.name not in MODEL_FILES:
        return convert_authors_checkpoint(path, **authors).to(map_location)
    directory = resolve_checkpoint(path)
    meta = read_model_meta(directory)
    try:
        config = from_dict(ModelConfig, meta["model"], "model")
    except ConfigError as exc:
        raise CheckpointError(f"{directory / 'model.json'}: {exc}") from None
    if not (directory / MODEL_WEIGHTS).is_file():
        raise CheckpointError(f"{directory}: {MODEL_WEIGHTS} is missing")
    state = read_model_weights(directory, device=map_location)
    with torch.device("meta"):
        model = build_model(config)
    load_weights_into(model, state, where=str(directory / MODEL_WEIGHTS), assign=True)
    model.provenance = meta.get("provenance", {})
    model.source_dir = str(directory.resolve())  # the step a run directory resolved to
    return model.eval()


def load_weights_into(module: nn.Module, state: dict[str, torch.Tensor], *, where: str,
                      only: Collection[str] | None = None, assign: bool = False) -> None:
    """Load ``state`` into ``module`` with an error that says what does not fit and why.

    Every tensor of the module must be in ``state`` with its shape, and nothing else
    (``load_state_dict(strict=True)``). With ``only``, just those names of the module are
    loaded (the others keep their values) and extra tensors in ``state`` are ignored."""
    own = module.state_dict()
    wanted = set(own) if only is None else set(only)
    missing = sorted(wanted - set(state))
    unexpected = sorted(set(state) - set(own)) if only is None else []
    wrong = sorted(k for k in wanted & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} of another shape (e.g. {k}: file {list(state[k].shape)}, "
                         f"model {list(own[k].shape)})")
        hint = _input_size_hint(wrong, state)
        raise CheckpointError(f"{where}: weights do not fit the model: {'; '.join(parts)}{hint}")
    if only is None:
        module.load_state_dict(state, strict=True, assign=assign)
    else:
        module.load_state_dict({k: state[k] for k in wanted}, strict=False, assign=assign)


def _input_size_hint(wrong: list[str], state: dict[str, torch.Tensor]) -> str:
    """Rel-pos tables fix the token grid; say which input the weights were trained for."""
    if not any("rel_pos" in k for k in wrong):
        return ""
    for prefix in sorted({k.split("blocks.")[0] for k in wrong if "blocks." in k}):
        t_key, h_key = f"{prefix}blocks.0.attn.rel_pos_t", f"{prefix}blocks.0.attn.rel_pos_h"
        conv = state.get(f"{prefix}patch_embed.proj.weight")
        if t_key in state and h_key in state and conv is not None and conv.ndim == 5:
            grid_t = (state[t_key].shape[0] + 1) // 2
            grid_hw = (state[h_key].shape[0] + 1) // 2  # square crops: rows = 2 * grid - 1
            stride_hw = 8 if conv.shape[-1] == 9 else 4
            return (f". These video weights need input of {grid_t * 2} frames at "
                    f"{grid_hw * stride_hw}x{grid_hw * stride_hw} (model.video.frames / crop)")
        if h_key in state:
            return (f". These audio weights need a spectrogram whose patch grid gives "
                    f"{state[h_key].shape[0]} rel-pos rows (mel_bins/4 + mel_frames/8 - 1 without "
                    f"patch overlap; 96x288 gives 59)")
    return ""


# ---- the authors' files -------------------------------------------------------------


def read_authors_checkpoint(path: str | Path, *, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The ``model`` state dict of a released file, read without running pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not _looks_like_torch_file(path):
        raise CheckpointError(f"{path}: not a torch checkpoint (neither a torch.save zip nor a "
                              f"pickle); give the released .pyth file, or a dubclr checkpoint "
                              f"directory")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, ...
        if not trust_pickle:
            raise CheckpointError(
                f"{path}: cannot be read as plain tensors (weights_only=True): "
                f"{str(exc).splitlines()[0]}. Loading it fully would unpickle arbitrary objects, "
                f"which can run any code on this machine. Only if you trust where the file came "
                f"from, re-run with --trust-pickle (trust_pickle=True in Python)") from None
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise CheckpointError(f"{path}: expected a dict with a 'model' state dict (authors' layout)")
    return ckpt["model"]


def _looks_like_torch_file(path: Path) -> bool:
    """torch.save writes a zip archive (or, in the legacy format, a pickle: byte 0x80)."""
    import zipfile

    with path.open("rb") as fh:
        first = fh.read(1)
    return first == b"\x80" or zipfile.is_zipfile(path)


def split_authors_state(state: dict[str, Any]) -> dict[str, dict[str, torch.Tensor]]:
    """Per-tower state dicts: keep ``backbone.*`` keys, drop ``backbone.`` as the release does."""
    towers: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if not key.startswith("backbone."):
            continue
        key = key.replace("backbone.", "")
        for tower, prefix in TOWER_PREFIX.items():
            if key.startswith(prefix):
                if not isinstance(value, torch.Tensor):
                    raise CheckpointError(f"backbone key {key!r} holds a {type(value).__name__}, "
                                          f"not a tensor")
                towers.setdefault(tower, {})[key[len(prefix):]] = value
    return towers


def convert_authors_checkpoint(path: str | Path, *, authors_config: str | Path | None = None,
                               video_config: str | Path | None = None,
                               audio_config: str | Path | None = None,
                               trust_pickle: bool = False) -> AVModel:
    """An :class:`AVModel` (no heads) holding a released file's towers, loaded strictly."""
    from dubclr.models.authors import tower_configs  # avoid a cycle at import time

    towers = split_authors_state(read_authors_checkpoint(path, trust_pickle=trust_pickle))
    if not towers:
        raise CheckpointError(f"{path}: no 'backbone.net.video.*' or 'backbone.net.audio.*' keys")
    video_cfg, audio_cfg = tower_configs(authors_config=authors_config, video_config=video_config,
                                         audio_config=audio_config, available=set(towers))
    model = build_model(ModelConfig(video=video_cfg, audio=audio_cfg, head=None))
    for name in ("video", "audio"):
        tower = getattr(model, name)
        if tower is not None:
            load_weights_into(tower, towers[name], where=f"{path} ({name} tower)")
    model.provenance = {"source": "authors-release", "file": str(path),
                        "sha256": sha256_file(path)}
    return model.eval()
