"""Typed media errors: each names the file and says what to do."""

from __future__ import annotations

from dubclr.errors import DubclrError


class MediaError(DubclrError):
    """A media file cannot be used (missing, unreadable, or not what was asked for)."""


class CorruptMediaError(MediaError):
    """The file is not valid media, or is truncated (decoding stops before its stated end)."""


class NoVideoStreamError(MediaError):
    """A video read was asked of a file without a video stream."""


class TrackNotFoundError(MediaError, LookupError):
    """The requested audio track (language or index) is not in the title."""


class WindowError(MediaError, ValueError):
    """The requested time window lies outside the file, or is empty."""
