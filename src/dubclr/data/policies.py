"""Dub policies: which language the secondary audio a_s is in, and what a batch holds.

The config string (``data.dub_policy``) is parsed once, where the config is read, into a
:class:`DubPolicy`; everything downstream uses its fields.

``mono``            a_s in the primary language (another window, another augmentation)
``fixed:<lang>``    a_s in <lang> (the primary when the title lacks it)
``cycle:<l1,...>``  round-robin over the languages, one language per batch: batch ``b`` of
                    an epoch takes language ``b mod n`` (SPEC: "a_s cycles ES, FR, JA
                    round-robin per batch"). A batch is one contrastive batch, so with
                    gradient accumulation (``optim.accum_steps > 1``) each micro-batch takes
                    the next language. A title without the batch's language takes the next
                    language of the cycle it has, else its primary.
``random``          any other language the title has; the primary if it has none
``separated``       a_p from the speech-removed track; no a_s
``audio_only``      no video; may carry a language policy: ``audio_only:cycle:es,fr,ja``

The policy names the views a batch holds (:attr:`DubPolicy.views`) and the loss terms they
feed (:attr:`DubPolicy.loss_terms`), so the dataset, the training step and the loss follow
the policy instead of guessing it from which keys a batch has.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from dubclr.errors import ConfigError
from dubclr.media.languages import is_language_tag, normalize_language

_KINDS = ("mono", "fixed", "cycle", "random", "separated")
_FIELD = "data.dub_policy"

# A loss term and the pairs of views it contrasts (its value is the mean over its pairs).
LossTerms = dict[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class DubPolicy:
    kind: str
    languages: tuple[str, ...] = ()
    audio_only: bool = False

    # -- the config edge ---------------------------------------------------------------

    @classmethod
    def from_config(cls, value: object, key: str = _FIELD) -> DubPolicy:
        """Read the config string; raises ConfigError naming ``key`` when malformed."""
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a policy string such as cycle:es,fr,ja, got {value!r}")
        return parse_dub_policy(value, key)

    def to_config(self) -> str:
        return str(self)

    def __str__(self) -> str:
        text = self.kind + (":" + ",".join(self.languages) if self.languages else "")
        if self.audio_only:
            return "audio_only" if self.kind == "mono" else f"audio_only:{text}"
        return text

    # -- what it implies ---------------------------------------------------------------

    @property
    def needs_separated(self) -> bool:
        """Only titles with a speech-removed track can be used (selection filters them)."""
        return self.kind == "separated"

    @property
    def loss_terms(self) -> LossTerms:
        """``L`` (cross-modal, eq. 2), ``L_v`` and ``L_a`` (within-modality, eq. 3) with the
        views each contrasts. Without a_s (``separated``) a_p stands in for it in ``L`` and
        there is no ``L_a``; audio-only batches have ``L_a`` alone."""
        if self.audio_only:
            return {"L_a": (("audio_p", "audio_s"),)}
        a_s = "audio_p" if self.kind == "separated" else "audio_s"
        terms: LossTerms = {"L": (("video_p", a_s), ("video_s", "audio_p")),
                            "L_v": (("video_p", "video_s"),)}
        if self.kind != "separated":
            terms["L_a"] = (("audio_p", "audio_s"),)
        return terms

    @property
    def views(self) -> tuple[str, ...]:
        """The keys a batch holds besides ``meta``."""
        return views_of(self.loss_terms)

    def check_languages(self, available: Collection[str]) -> None:
        """Raise ConfigError when a language the policy names is in no selected title
        (``available``: the languages of the selection's tracks)."""
        missing = [lang for lang in self.languages if lang not in set(available)]
        if missing:
            raise ConfigError(
                f"{_FIELD}={str(self)!r}: no selected title has a track in "
                f"{', '.join(missing)}; the titles have {', '.join(sorted(available)) or 'none'}")

    def secondary_language(self, primary: str, available: list[str], batch: int,
                           rng: np.random.Generator) -> str | None:
        """The language of a_s for one item of batch ``batch`` of the epoch."""
        if self.kind == "separated":
            return None
        if self.kind == "mono":
            return primary
        if self.kind == "fixed":
            return self.languages[0] if self.languages[0] in available else primary
        if self.kind == "cycle":
            n = len(self.languages)
            for offset in range(n):  # the batch's language, else the next one the title has
                lang = self.languages[(batch + offset) % n]
                if lang in available:
                    return lang
            return primary
        others = sorted(lang for lang in set(available) if lang != primary)
        if not others:
            return primary
        return others[int(rng.integers(len(others)))]


def views_of(terms: LossTerms) -> tuple[str, ...]:
    """The views loss terms contrast, in the batch's order."""
    used = {view for pairs in terms.values() for pair in pairs for view in pair}
    return tuple(v for v in ("video_p", "video_s", "audio_p", "audio_s") if v in used)


def parse_dub_policy(text: str, key: str = _FIELD) -> DubPolicy:
    """Read a policy string; raises ConfigError (naming ``key``) when malformed."""
    raw = text.strip()
    audio_only = False
    if raw == "audio_only" or raw.startswith("audio_only:"):
        audio_only = True
        raw = raw[len("audio_only:"):] if ":" in raw else "mono"
    kind, _, rest = raw.partition(":")
    kind = kind.strip()
    langs = tuple(lang.strip() for lang in rest.split(",") if lang.strip())
    if kind not in _KINDS:
        raise ConfigError(f"{key}: unknown policy {text!r}; use mono, fixed:<lang>, "
                          "cycle:<l1,l2,...>, random, separated or audio_only[:<policy>]")
    if kind in ("fixed", "cycle") and not langs:
        raise ConfigError(f"{key}: {kind!r} needs languages, e.g. {kind}:es")
    if kind == "fixed" and len(langs) != 1:
        raise ConfigError(f"{key}: fixed takes exactly one language, got {text!r}")
    if kind not in ("fixed", "cycle") and langs:
        raise ConfigError(f"{key}: {kind!r} takes no languages, got {text!r}")
    if audio_only and kind == "separated":
        raise ConfigError(f"{key}: audio_only cannot be combined with separated "
                          "(there would be a single audio clip and nothing to contrast)")
    unknown = [lang for lang in langs if not is_language_tag(lang)]
    if unknown:
        raise ConfigError(f"{key}: {unknown[0]!r} in {text!r} is not a language code; use "
                          "ISO 639-1 codes such as es, fr, ja (or 639-2: spa, fra, jpn)")
    langs = tuple(normalize_language(lang) for lang in langs)
    return DubPolicy(kind=kind, languages=langs, audio_only=audio_only)
