"""Errors of the models package."""

from dubclr.errors import ConfigError


class InputSizeError(ConfigError):
    """A tower got an input of another size than the one its weights were built for."""
