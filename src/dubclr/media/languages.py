"""Language tags -> ISO 639-1.

Containers tag streams with ISO 639-2 codes (bibliographic `fre`/`ger` or terminological
`fra`/`deu`), BCP 47 tags (`en-US`) or English names. Everything dubclr stores is ISO 639-1
(`en`, `es`...), or `und` when the tag says nothing. A code without a two-letter form
(`yue`, `haw`) is kept as its lower-case three-letter code.
"""

from __future__ import annotations

# ISO 639-1 -> (ISO 639-2 codes, English name). Both B and T forms are listed.
_LANGUAGES: dict[str, tuple[tuple[str, ...], str]] = {
    "af": (("afr",), "afrikaans"), "am": (("amh",), "amharic"), "ar": (("ara",), "arabic"),
    "az": (("aze",), "azerbaijani"), "be": (("bel",), "belarusian"), "bg": (("bul",), "bulgarian"),
    "bn": (("ben",), "bengali"), "bs": (("bos",), "bosnian"), "ca": (("cat",), "catalan"),
    "cs": (("cze", "ces"), "czech"), "cy": (("wel", "cym"), "welsh"), "da": (("dan",), "danish"),
    "de": (("ger", "deu"), "german"), "el": (("gre", "ell"), "greek"), "en": (("eng",), "english"),
    "eo": (("epo",), "esperanto"), "es": (("spa",), "spanish"), "et": (("est",), "estonian"),
    "eu": (("baq", "eus"), "basque"), "fa": (("per", "fas"), "persian"), "fi": (("fin",), "finnish"),
    "fr": (("fre", "fra"), "french"), "ga": (("gle",), "irish"),
    "gl": (("glg",), "galician"), "gu": (("guj",), "gujarati"), "he": (("heb",), "hebrew"),
    "hi": (("hin",), "hindi"), "hr": (("hrv",), "croatian"), "hu": (("hun",), "hungarian"),
    "hy": (("arm", "hye"), "armenian"), "id": (("ind",), "indonesian"), "is": (("ice", "isl"), "icelandic"),
    "it": (("ita",), "italian"), "ja": (("jpn",), "japanese"), "ka": (("geo", "kat"), "georgian"),
    "kk": (("kaz",), "kazakh"), "km": (("khm",), "khmer"), "kn": (("kan",), "kannada"),
    "ko": (("kor",), "korean"), "la": (("lat",), "latin"), "lt": (("lit",), "lithuanian"),
    "lv": (("lav",), "latvian"), "mk": (("mac", "mkd"), "macedonian"), "ml": (("mal",), "malayalam"),
    "mn": (("mon",), "mongolian"), "mr": (("mar",), "marathi"), "ms": (("may", "msa"), "malay"),
    "mt": (("mlt",), "maltese"), "my": (("bur", "mya"), "burmese"), "nb": (("nob",), "norwegian bokmal"),
    "ne": (("nep",), "nepali"), "nl": (("dut", "nld"), "dutch"), "no": (("nor",), "norwegian"),
    "pa": (("pan",), "punjabi"), "pl": (("pol",), "polish"), "pt": (("por",), "portuguese"),
    "ro": (("rum", "ron"), "romanian"), "ru": (("rus",), "russian"), "sk": (("slo", "slk"), "slovak"),
    "sl": (("slv",), "slovenian"), "sq": (("alb", "sqi"), "albanian"), "sr": (("srp",), "serbian"),
    "sv": (("swe",), "swedish"), "sw": (("swa",), "swahili"), "ta": (("tam",), "tamil"),
    "te": (("tel",), "telugu"), "th": (("tha",), "thai"), "tl": (("tgl",), "tagalog"),
    "tr": (("tur",), "turkish"), "uk": (("ukr",), "ukrainian"), "ur": (("urd",), "urdu"),
    "uz": (("uzb",), "uzbek"), "vi": (("vie",), "vietnamese"), "zh": (("chi", "zho"), "chinese"),
    "zu": (("zul",), "zulu"),
}
# Tags that carry no language: undetermined, multiple, none, uncoded.
_UNDETERMINED = {"", "und", "mul", "zxx", "mis", "xx", "unknown", "none", "qaa"}

_TO_ISO1: dict[str, str] = {}
for _code, (_iso2, _name) in _LANGUAGES.items():
    _TO_ISO1[_code] = _code
    _TO_ISO1[_name] = _code
    for _c in _iso2:
        _TO_ISO1[_c] = _code
_TO_ISO1["castilian"] = "es"
_TO_ISO1["flemish"] = "nl"
# QuickTime's own spellings (MOV files from Apple tools): Swedish, Irish, Moldavian
_TO_ISO1.update({"sve": "sv", "iri": "ga", "mol": "ro"})

# The language codes a MOV (QuickTime) file can carry: FFmpeg writes only these into its
# media header and drops any other tag, `fre` included (QuickTime spells French `fra`).
_QUICKTIME_CODES = (
    "eng fra ger ita dut sve spa dan por nor heb jpn ara fin gre ice mlt tur hr chi urd hin "
    "tha kor lit pol hun est lav fo rus iri alb ron ces slk slv yid sr mac bul ukr bel uzb "
    "kaz aze arm geo mol kir tgk tuk mon pus kur kas snd tib nep san mar ben asm guj pa ori "
    "mal kan tam tel bur khm lao vie ind tgl may amh tir orm som swa run mlg epo wel baq cat "
    "lat que grn aym tat uig dzo jav").split()


def normalize_language(tag: str | None) -> str:
    """`'spa'` -> `'es'`, `'fre'`/`'fra'`/`'French'` -> `'fr'`, `'en-US'` -> `'en'`, `''` -> `'und'`."""
    if tag is None:
        return "und"
    text = str(tag).strip().lower().replace("_", "-")
    if text in _UNDETERMINED:
        return "und"
    if text in _TO_ISO1:
        return _TO_ISO1[text]
    primary = text.split("-", 1)[0]
    if primary in _UNDETERMINED:
        return "und"
    if primary in _TO_ISO1:
        return _TO_ISO1[primary]
    if primary.isalpha() and len(primary) == 3:
        return primary
    return "und"


def is_language_tag(tag: str) -> bool:
    """True when `tag` names a language we know (used to recognise `Movie.es.flac` sidecars)."""
    text = tag.strip().lower().replace("_", "-")
    return text in _TO_ISO1 or text.split("-", 1)[0] in _TO_ISO1


def to_iso639_2(language: str) -> str:
    """The ISO 639-2/B code Matroska stores (`'fr'` -> `'fre'`); 'und' when unknown."""
    code = normalize_language(language)
    if code in _LANGUAGES:
        return _LANGUAGES[code][0][0]
    return code if len(code) == 3 else "und"


def to_quicktime(language: str) -> str | None:
    """The code a MOV file stores for ``language`` (``'fre'`` -> ``'fra'``, ``'sv'`` ->
    ``'sve'``; two-letter QuickTime codes padded to three), or None when QuickTime has none."""
    code = normalize_language(language)
    for quicktime in _QUICKTIME_CODES:
        if normalize_language(quicktime) == code:
            return quicktime.ljust(3)
    return None


def language_name(language: str) -> str:
    """English name of a language (`'ja'` -> `'Japanese'`), or the code itself."""
    code = normalize_language(language)
    return _LANGUAGES[code][1].title() if code in _LANGUAGES else code
