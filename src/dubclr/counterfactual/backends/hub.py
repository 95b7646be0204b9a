"""Checks for packages and for Hugging Face models already in the local cache."""

from __future__ import annotations

import importlib

from dubclr.errors import BackendUnavailableError


def require_package(module: str, pip_name: str, why: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"{why} needs the Python package '{pip_name}' (import {module} failed: {exc}); "
            f"install it with: pip install {pip_name}") from None


def require_hf_model(repo_id: str, why: str) -> str:
    """Local snapshot folder of a transformers model ``repo_id``; never downloads."""
    require_package("transformers", "transformers", why)
    return require_hf_snapshot(repo_id, why)


def require_hf_snapshot(repo_id: str, why: str) -> str:
    """Local snapshot folder of ``repo_id`` in the Hugging Face cache; never downloads."""
    require_package("huggingface_hub", "huggingface_hub", why)
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, local_files_only=True)
    except Exception as exc:  # LocalEntryNotFoundError and friends, across hub versions
        from huggingface_hub.constants import HF_HUB_CACHE

        raise BackendUnavailableError(
            f"{why} needs the model '{repo_id}', which is not in the Hugging Face cache "
            f"({HF_HUB_CACHE}; {type(exc).__name__}). Fetch it once with: "
            f"hf download {repo_id}  (huggingface_hub's command line; or set HF_HOME to where "
            f"it is)") from None
