"""Language codes each tool wants: ISO 639-2 for the container, NLLB / SeamlessM4T codes."""

from __future__ import annotations

from dubclr.errors import ConfigError

# ISO 639-1 -> (ISO 639-2/B as Matroska stores it, NLLB-200 code, SeamlessM4T code)
_CODES: dict[str, tuple[str, str, str]] = {
    "ar": ("ara", "arb_Arab", "arb"),
    "de": ("ger", "deu_Latn", "deu"),
    "en": ("eng", "eng_Latn", "eng"),
    "es": ("spa", "spa_Latn", "spa"),
    "fr": ("fre", "fra_Latn", "fra"),
    "hi": ("hin", "hin_Deva", "hin"),
    "it": ("ita", "ita_Latn", "ita"),
    "ja": ("jpn", "jpn_Jpan", "jpn"),
    "ko": ("kor", "kor_Hang", "kor"),
    "nl": ("dut", "nld_Latn", "nld"),
    "pl": ("pol", "pol_Latn", "pol"),
    "pt": ("por", "por_Latn", "por"),
    "ru": ("rus", "rus_Cyrl", "rus"),
    "tr": ("tur", "tur_Latn", "tur"),
    "zh": ("chi", "zho_Hans", "cmn"),
}


def _lookup(language: str, column: int, what: str) -> str:
    try:
        return _CODES[language][column]
    except KeyError:
        known = ", ".join(sorted(_CODES))
        raise ConfigError(f"language {language!r} has no {what} code here; use one of {known}") from None


def container_code(language: str) -> str:
    """'es' -> 'spa' (the tag Matroska stores)."""
    return _lookup(language, 0, "ISO 639-2")


def nllb_code(language: str) -> str:
    return _lookup(language, 1, "NLLB-200")


def seamless_code(language: str) -> str:
    return _lookup(language, 2, "SeamlessM4T")


def check_languages(languages: list[str] | tuple[str, ...]) -> None:
    for lang in languages:
        container_code(lang)
