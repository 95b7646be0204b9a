"""Language codes each tool wants: ISO 639-2 for the container (from dubclr.media), NLLB /
SeamlessM4T codes for the translation models."""

from __future__ import annotations

from dubclr.errors import ConfigError
from dubclr.media.languages import to_iso639_2

# ISO 639-1 -> (NLLB-200 code, SeamlessM4T code): the target languages we support
_CODES: dict[str, tuple[str, str]] = {
    "ar": ("arb_Arab", "arb"),
    "de": ("deu_Latn", "deu"),
    "en": ("eng_Latn", "eng"),
    "es": ("spa_Latn", "spa"),
    "fr": ("fra_Latn", "fra"),
    "hi": ("hin_Deva", "hin"),
    "it": ("ita_Latn", "ita"),
    "ja": ("jpn_Jpan", "jpn"),
    "ko": ("kor_Hang", "kor"),
    "nl": ("nld_Latn", "nld"),
    "pl": ("pol_Latn", "pol"),
    "pt": ("por_Latn", "por"),
    "ru": ("rus_Cyrl", "rus"),
    "tr": ("tur_Latn", "tur"),
    "zh": ("zho_Hans", "cmn"),
}


def _lookup(language: str, column: int, what: str) -> str:
    try:
        return _CODES[language][column]
    except KeyError:
        known = ", ".join(sorted(_CODES))
        raise ConfigError(f"language {language!r} has no {what} code here; use one of {known}") from None


def container_code(language: str) -> str:
    """'es' -> 'spa' (the tag Matroska stores); any language, the original's too."""
    return to_iso639_2(language)


def nllb_code(language: str) -> str:
    return _lookup(language, 0, "NLLB-200")


def seamless_code(language: str) -> str:
    return _lookup(language, 1, "SeamlessM4T")


def check_languages(languages: list[str] | tuple[str, ...]) -> None:
    """Target languages must be ones the pipeline has codes for."""
    for lang in languages:
        _lookup(lang, 0, "target-language")
