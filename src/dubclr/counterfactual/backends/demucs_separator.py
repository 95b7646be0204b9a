"""Speech / background separation with Demucs (the paper's step 1): vocals vs. the rest."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from dubclr.counterfactual.backends.hub import require_package
from dubclr.counterfactual.config import SeparateConfig
from dubclr.errors import BackendUnavailableError
from dubclr.media import resample


def _weight_files(model_name: str) -> list[str]:
    import demucs
    import yaml

    remote = Path(demucs.__file__).parent / "remote"
    spec = remote / f"{model_name}.yaml"
    if not spec.is_file():
        known = ", ".join(sorted(p.stem for p in remote.glob("*.yaml")))
        raise BackendUnavailableError(f"separate.demucs_model {model_name!r} is not a Demucs "
                                      f"pretrained model; known: {known}")
    signatures = yaml.safe_load(spec.read_text()).get("models", [])
    files = (remote / "files.txt").read_text().split()
    return [next((f for f in files if f.startswith(f"{sig}-")), f"{sig}.th") for sig in signatures]


def require(cfg: SeparateConfig) -> None:
    require_package("demucs", "demucs", "separate.backend 'demucs'")
    import torch

    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    missing = [f for f in _weight_files(cfg.demucs_model) if not (checkpoints / f).is_file()]
    if missing:
        raise BackendUnavailableError(
            f"Demucs model {cfg.demucs_model!r} weights are not in the torch hub cache "
            f"({checkpoints}: missing {', '.join(missing)}). Fetch them once with: python -c "
            f"\"from demucs.pretrained import get_model; get_model('{cfg.demucs_model}')\"")


@functools.lru_cache(maxsize=2)
def _model(name: str, device: str):
    from demucs.pretrained import get_model

    model = get_model(name)
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
    speech, background = resample(vocals, model.samplerate, rate), resample(rest, model.samplerate, rate)
    n = len(mixture)
    return np.pad(speech, (0, max(0, n - len(speech))))[:n], np.pad(background, (0, max(0, n - len(background))))[:n]
