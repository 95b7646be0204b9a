"""Model backends of the counterfactual pipeline, one module per external tool.

Each exposes ``require(...)``, which checks that the package is importable and its weights are
already in their usual cache, raising :class:`~dubclr.errors.BackendUnavailableError` that names
what is missing and how to fetch it. The pipeline calls every chosen backend's ``require``
before it touches any title, so a missing model never fails a run halfway.
"""
