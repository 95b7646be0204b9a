"""Dub policies: which language the secondary audio a_s is in.

``mono``            a_s in the primary language (another window, another augmentation)
``fixed:<lang>``    a_s in <lang> (the primary when the title lacks it)
``cycle:<l1,...>``  round-robin over the languages, one per batch (EFJ)
``random``          any other language the title has; the primary if it has none
``separated``       a_p from the speech-removed track; no a_s
``audio_only``      no video; may carry a language policy: ``audio_only:cycle:es,fr,ja``
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dubclr.errors import ConfigError

_KINDS = ("mono", "fixed", "cycle", "random", "separated")


@dataclass(frozen=True)
class DubPolicy:
    kind: str
    languages: tuple[str, ...] = ()
    audio_only: bool = False

    @property
    def has_secondary_audio(self) -> bool:
        return self.kind != "separated"

    @property
    def has_video(self) -> bool:
        return not self.audio_only

    def secondary_language(self, primary: str, available: list[str], step: int,
                           rng: np.random.Generator) -> str | None:
        """The language of a_s for one item of the batch at ``step``."""
        if self.kind == "separated":
            return None
        if self.kind == "mono":
            return primary
        if self.kind == "fixed":
            return self.languages[0] if self.languages[0] in available else primary
        if self.kind == "cycle":
            n = len(self.languages)
            for offset in range(n):  # the batch's language, else the next one the title has
                lang = self.languages[(step + offset) % n]
                if lang in available:
                    return lang
            return primary
        others = sorted(lang for lang in set(available) if lang != primary)
        if not others:
            return primary
        return others[int(rng.integers(len(others)))]


def parse_dub_policy(text: str) -> DubPolicy:
    """Read a policy string; raises ConfigError (field ``data.dub_policy``) when malformed."""
    raw = text.strip()
    audio_only = False
    if raw == "audio_only" or raw.startswith("audio_only:"):
        audio_only = True
        raw = raw[len("audio_only:"):] if ":" in raw else "mono"
    kind, _, rest = raw.partition(":")
    kind = kind.strip()
    langs = tuple(lang.strip() for lang in rest.split(",") if lang.strip())
    if kind not in _KINDS:
        raise ConfigError(f"data.dub_policy: unknown policy {text!r}; use mono, fixed:<lang>, "
                          "cycle:<l1,l2,...>, random, separated or audio_only[:<policy>]")
    if kind in ("fixed", "cycle") and not langs:
        raise ConfigError(f"data.dub_policy: {kind!r} needs languages, e.g. {kind}:es")
    if kind == "fixed" and len(langs) != 1:
        raise ConfigError(f"data.dub_policy: fixed takes exactly one language, got {text!r}")
    if kind not in ("fixed", "cycle") and langs:
        raise ConfigError(f"data.dub_policy: {kind!r} takes no languages, got {text!r}")
    if audio_only and kind == "separated":
        raise ConfigError("data.dub_policy: audio_only cannot be combined with separated "
                          "(there would be a single audio clip and nothing to contrast)")
    return DubPolicy(kind=kind, languages=langs, audio_only=audio_only)
