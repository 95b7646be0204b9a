"""Model checkpoints: our safetensors + JSON directory, and the authors' released files.

Our format is a directory holding ``model.safetensors`` (weights) and ``model.json``
(``{"format": "dubclr-model", "version": 1, "model": ModelConfig, "provenance": {...}}``),
so a model is rebuilt from the checkpoint alone. A training checkpoint directory holds
the same two files and loads the same way.

The authors' files are torch pickles with a ``model`` state dict whose backbone keys are
``backbone.net.video.*`` / ``backbone.net.audio.*``. They are read with
``torch.load(weights_only=True)``, which never runs code; a file that needs full
unpickling is refused unless the caller opts in with ``trust_pickle=True``.
"""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from dubclr import __version__
from dubclr.atomic import publish_dir, sha256_file
from dubclr.config import from_dict, to_dict
from dubclr.errors import CheckpointError, ConfigError
from dubclr.models.av import AVModel, build_model
from dubclr.models.config import ModelConfig

FORMAT = "dubclr-model"
VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
TOWER_PREFIX = {"video": "net.video.", "audio": "net.audio."}


def save_model(model: AVModel, out_dir: str | Path, provenance: dict[str, Any] | None = None,
               *, overwrite: bool = False) -> Path:
    """Write ``model`` atomically: a temp directory beside ``out_dir``, fsync, rename."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise CheckpointError(f"{out_dir} already exists; pass overwrite=True (--overwrite) "
                              f"or choose another directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        write_model_files(tmp, model_state(model), model.config, provenance)
        publish_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A plain CPU state dict (safetensors wants contiguous, unshared tensors)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def write_model_files(directory: Path, state: dict[str, torch.Tensor], config: ModelConfig,
                      provenance: dict[str, Any] | None = None) -> tuple[str, str]:
    """``model.safetensors`` and ``model.json`` into ``directory`` (not fsynced: the caller
    publishes the directory atomically). Returns the two file names."""
    meta = {"format": FORMAT, "version": VERSION, "model": to_dict(config),
            "provenance": {"dubclr_version": __version__,
                           "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                               timespec="seconds"),
                           **(provenance or {})}}
    save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return WEIGHTS_FILE, CONFIG_FILE


def read_model_json(path: str | Path) -> dict[str, Any]:
    """The ``model.json`` of a checkpoint directory (ours or a training step)."""
    path = Path(path)
    cfg_path = path / CONFIG_FILE if path.is_dir() else path
    if not cfg_path.is_file():
        raise CheckpointError(f"{path}: no {CONFIG_FILE}; a dubclr checkpoint is a directory with "
                              f"{WEIGHTS_FILE} and {CONFIG_FILE} (convert authors' files with "
                              f"`dubclr checkpoint convert`)")
    try:
        meta = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"{cfg_path}: format {meta.get('format')!r} version "
                              f"{meta.get('version')!r}, expected {FORMAT!r} version {VERSION}")
    return meta


def load_model(path: str | Path, map_location: str | torch.device = "cpu", **authors: Any) -> AVModel:
    """Rebuild a model from our directory, a training checkpoint directory, a run directory
    (its newest valid checkpoint), or an authors' file.

    For an authors' file pass its config as ``authors_config=`` (release YAML) or
    ``video_config=`` / ``audio_config=`` (resolved per-tower JSON), and optionally
    ``trust_pickle=True``.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_file() and path.name not in (CONFIG_FILE, WEIGHTS_FILE):
        return convert_authors_checkpoint(path, **authors).to(map_location)
    directory = path if path.is_dir() else path.parent
    if path.is_dir() and not (path / CONFIG_FILE).is_file() and (path / "checkpoints").is_dir():
        from dubclr.train.checkpoint import resolve_weights_source  # a run directory

        directory = resolve_weights_source(path)
    meta = read_model_json(directory)
    try:
        config = from_dict(ModelConfig, meta["model"], "model")
    except ConfigError as exc:
        raise CheckpointError(f"{directory / CONFIG_FILE}: {exc}") from None
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{directory}: {WEIGHTS_FILE} is missing")
    state = load_file(str(weights), device=str(map_location))
    with torch.device("meta"):
        model = build_model(config)
    load_weights(model, state, where=str(weights), assign=True)
    model.provenance = meta.get("provenance", {})
    model.source_dir = str(directory.resolve())  # the step a run directory resolved to
    return model.eval()


def load_weights(module: nn.Module, state: dict[str, torch.Tensor], *, where: str,
                 assign: bool = False) -> None:
    """``load_state_dict(strict=True)`` with an error that says what does not fit and why."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
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
    module.load_state_dict(state, strict=True, assign=assign)


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
            load_weights(tower, towers[name], where=f"{path} ({name} tower)")
    model.provenance = {"source": "authors-release", "file": str(path),
                        "sha256": sha256_file(path)}
    return model.eval()
