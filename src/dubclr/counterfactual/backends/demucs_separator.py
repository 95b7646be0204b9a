"""Speech / background separation with Demucs (the paper's step 1): vocals vs. the rest.

demucs 4.1 publishes its models on the Hugging Face hub (``adefossez/HTDemucs``: ``htdemucs.yaml``
naming the bag's models, one safetensors file each) and keeps the legacy files for the torch hub
cache. Its ``get_model`` asks the hub first, which without ``HF_HUB_OFFLINE`` retries for about
24 s in every worker. Here the model is read from whichever cache holds it (Hugging Face first,
then torch hub), with demucs's own loaders and never over the network.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from dubclr.counterfactual.audio import fit_length
from dubclr.counterfactual.backends.hub import require_package
from dubclr.counterfactual.config import SeparateConfig
from dubclr.errors import BackendUnavailableError
from dubclr.media import resample


def hf_repo_id(model_name: str) -> str:
    """'htdemucs' -> 'adefossez/HTDemucs' (demucs's own naming; 'user/name' keeps the user)."""
    from demucs.hf import DEFAULT_NAMESPACE, hf_repo_name

    namespace, _, name = model_name.rpartition("/")
    return f"{namespace or DEFAULT_NAMESPACE}/{hf_repo_name(name)}"


def _hf_cached_files(model_name: str) -> list[Path] | None:
    """[bag yaml, model files...] of ``model_name`` in the Hugging Face cache, or None."""
    import yaml
    from huggingface_hub import try_to_load_from_cache

    repo, name = hf_repo_id(model_name), model_name.rpartition("/")[2]
    bag = try_to_load_from_cache(repo, f"{name}.yaml")
    if not isinstance(bag, str):
        return None
    signatures = yaml.safe_load(Path(bag).read_text()).get("models", [])
    files = [try_to_load_from_cache(repo, f"{sig}.safetensors") for sig in signatures]
    if not signatures or not all(isinstance(f, str) for f in files):
        return None
    return [Path(bag), *map(Path, files)]


def _torch_hub_files(model_name: str) -> list[str]:
    """Legacy file names of ``model_name`` (demucs's remote/<name>.yaml and files.txt)."""
    import demucs
    import yaml

    remote = Path(demucs.__file__).parent / "remote"
    spec = remote / f"{model_name}.yaml"
    if not spec.is_file():
        return []
    signatures = yaml.safe_load(spec.read_text()).get("models", [])
    files = (remote / "files.txt").read_text().split()
    return [next((f for f in files if f.startswith(f"{sig}-")), f"{sig}.th") for sig in signatures]


def _torch_hub_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def require(cfg: SeparateConfig) -> None:
    require_package("demucs", "demucs", "separate.backend 'demucs'")
    name = cfg.demucs_model
    if _hf_cached_files(name) is not None:
        return
    legacy = _torch_hub_files(name)
    missing = [f for f in legacy if not (_torch_hub_checkpoints() / f).is_file()]
    if legacy and not missing:
        return
    from huggingface_hub.constants import HF_HUB_CACHE

    legacy_note = (f"torch hub cache ({_torch_hub_checkpoints()}: missing {', '.join(missing)})"
                   if legacy else "no legacy torch hub files exist for this name")
    raise BackendUnavailableError(
        f"Demucs model {name!r} is in neither cache: Hugging Face ({HF_HUB_CACHE}: "
        f"{hf_repo_id(name)}) nor {legacy_note}. Fetch it once with: hf download "
        f"{hf_repo_id(name)}  (or: python -c \"from demucs.pretrained import get_model; "
        f"get_model('{name}')\")")


@functools.lru_cache(maxsize=2)
def _model(name: str, device: str):
    import yaml
    from demucs.apply import BagOfModels

    files = _hf_cached_files(name)
    if files is not None:
        from demucs.hf import load_safetensors_model

        bag = yaml.safe_load(files[0].read_text())
        model = BagOfModels([load_safetensors_model(f) for f in files[1:]], bag.get("weights"),
                            bag.get("segment"))
    else:  # the legacy files, checksum-verified by demucs's LocalRepo
        import demucs
        from demucs.repo import AnyModelRepo, BagOnlyRepo, LocalRepo

        models = LocalRepo(_torch_hub_checkpoints())
        model = AnyModelRepo(models, BagOnlyRepo(Path(demucs.__file__).parent / "remote", models)
                             ).get_model(name)
    return model.to(device).eval()


def separate(mixture: np.ndarray, rate: int, cfg: SeparateConfig) -> tuple[np.ndarray, np.ndarray]:
    """(speech, background) at ``rate``, each as long as ``mixture``."""
    import torch
    from demucs.apply import apply_model

    model = _model(cfg.demucs_model, cfg.device)
    audio = resample(mixture, rate, model.samplerate)
    wav = torch.from_numpy(np.stack([audio] * model.audio_channels))
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std().clamp_min(1e-8)
    with torch.inference_mode():
        sources = apply_model(model, ((wav - mean) / std)[None], device=cfg.device, split=True,
                              overlap=0.25, progress=False)[0]
    sources = (sources * std + mean).mean(dim=1).cpu().numpy()  # (sources, N) mono
    vocals = sources[model.sources.index("vocals")]
    rest = sources.sum(axis=0) - vocals
    n = len(mixture)
    return (fit_length(resample(vocals, model.samplerate, rate), n),
            fit_length(resample(rest, model.samplerate, rate), n))
