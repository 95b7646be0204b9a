"""Typed errors. Each carries what a user needs to act: the file, the field, the fix."""


class DubclrError(Exception):
    """Base class of every error dubclr raises on purpose."""


class ConfigError(DubclrError, ValueError):
    """A configuration key is unknown, ill-typed or out of range."""


class CatalogError(DubclrError):
    """The title catalog is missing, of another schema version, or inconsistent."""


class CheckpointError(DubclrError):
    """A checkpoint cannot be read safely, or does not fit the model."""


class BackendUnavailableError(DubclrError):
    """An optional backend (package or model weights) is not installed; says how to get it."""
