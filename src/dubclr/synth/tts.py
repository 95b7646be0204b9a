"""Offline text-to-speech with espeak-ng, through ctypes.

The `espeakng-loader` wheel ships `libespeak-ng.so` and its voice data, so nothing needs
installing system-wide. espeak-ng keeps global state and is not thread-safe: the library is
initialised once per process (lazily, so each worker of a process pool gets its own) and every
call holds a lock. espeak-ng also carries voicing state from one utterance to the next, so
the same text spoken twice differs slightly; a fresh process replays the same sequence of calls
bit for bit (the corpus builder speaks each title in a fresh process for that reason).
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import threading

import numpy as np

from dubclr.errors import BackendUnavailableError

# espeak-ng API constants (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_ENDPAUSE = 0x1000
_POS_CHARACTER = 1
_EE_OK = 0
_RANDOM_SEED = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4

# espeak-ng voice names for the languages of the corpus (Japanese is read from kana)
LANGUAGE_VOICES = {"en": "en-us", "es": "es", "fr": "fr", "ja": "ja", "de": "de", "it": "it",
                   "ko": "ko"}
# voice variants (espeak-ng-data/voices/!v) that sound clearly different from each other
VARIANTS = ("m1", "f2", "m3", "f4", "m7", "f5")

_LANGUAGE_NAME = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                   ctypes.c_void_p)


class _VoiceSpec(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte),
                ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
                ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


class _Engine:
    """One initialised espeak-ng library in this process."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError:
            raise BackendUnavailableError(
                "espeak-ng TTS needs the 'espeakng-loader' package: pip install espeakng-loader"
            ) from None
        try:
            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data_path = espeakng_loader.get_data_path()
        except (OSError, RuntimeError) as exc:
            raise BackendUnavailableError(f"cannot load espeak-ng from espeakng-loader ({exc}); "
                                          f"reinstall it: pip install --force-reinstall "
                                          f"espeakng-loader") from None
        self._declare()
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
        if self.sample_rate <= 0:
            raise BackendUnavailableError(f"espeak_Initialize failed with voice data at "
                                          f"{data_path}; reinstall espeakng-loader")
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept alive as long as the engine
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()
        self.pid = os.getpid()

    def _declare(self) -> None:
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceSpec))

    def _collect(self, samples, count, _events) -> int:
        if count > 0 and samples:
            self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0  # 0: keep synthesising

    def speak(self, text: str, voice: str, pitch: int, rate: int, pitch_range: int) -> np.ndarray:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise BackendUnavailableError(
                    f"espeak-ng has no voice '{voice}'; known languages: "
                    f"{', '.join(sorted(self.languages()))}")
            for parameter, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch),
                                     (_PARAM_RANGE, pitch_range), (_PARAM_VOLUME, 100)):
                self.lib.espeak_SetParameter(parameter, int(value), 0)
            self._chunks = []
            self.lib.espeak_ng_SetRandSeed(_RANDOM_SEED)  # voicing noise: same text, same samples
            encoded = text.encode("utf-8") + b"\0"
            buffer = ctypes.create_string_buffer(encoded, len(encoded))
            status = self.lib.espeak_Synth(buffer, len(encoded), 0, _POS_CHARACTER, 0,
                                           _ESPEAK_CHARS_UTF8 | _ESPEAK_ENDPAUSE, None, None)
            self.lib.espeak_Synchronize()
            if status != _EE_OK:
                raise BackendUnavailableError(f"espeak-ng failed (code {status}) on {text!r}")
            chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks)

    def languages(self) -> set[str]:
        """Primary language of every installed voice (e.g. 'en-us', 'fr-fr', 'ja')."""
        voices = self.lib.espeak_ListVoices(None)
        found = set()
        index = 0
        while voices[index]:
            names = _parse_languages(ctypes.string_at(voices[index].contents.languages, 64))
            found.update(names[:1])  # later records are not reliably terminated in this build
            index += 1
        return found

    def has_voice(self, name: str) -> bool:
        with self.lock:
            return self.lib.espeak_SetVoiceByName(name.encode()) == _EE_OK

    def version(self) -> str:
        return self.lib.espeak_Info(None).decode()


def _parse_languages(raw: bytes) -> list[str]:
    """espeak_VOICE.languages: (priority byte, name, NUL) records, ended by a zero priority."""
    names, position = [], 0
    while position < len(raw) and raw[position] != 0:
        end = raw.find(b"\0", position + 1)
        if end < 0:
            break
        name = raw[position + 1:end].decode("ascii", "replace")
        if _LANGUAGE_NAME.match(name) and name != "variant":
            names.append(name)
        position = end + 1
    return names


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None or _engine.pid != os.getpid():  # a forked child starts its own
            _engine = _Engine()
        return _engine


def voice_name(language: str, variant: str | None = None) -> str:
    """espeak-ng voice name: `voice_name('en', 'm3')` -> `'en-us+m3'`."""
    try:
        base = LANGUAGE_VOICES[language]
    except KeyError:
        base = language
    return f"{base}+{variant}" if variant else base


def synthesize(text: str, language: str, voice: str | None = None, pitch: int = 50,
               rate: int = 160, pitch_range: int = 50) -> tuple[np.ndarray, int]:
    """Speak `text`: float32 mono samples in [-1, 1] and their sample rate (22050 Hz).

    `voice` is a variant (`'m3'`, `'f2'`) or a full espeak-ng voice name (`'en+m3'`); pitch
    and range are 0-100, rate is words per minute (80-450).
    """
    name = voice if voice and ("+" in voice or voice == voice_name(language)) else \
        voice_name(language, voice)
    engine = _get_engine()
    samples = engine.speak(text, name, pitch, rate, pitch_range)
    return samples.astype(np.float32) / 32768.0, engine.sample_rate


@functools.lru_cache(maxsize=1)
def tts_info() -> dict:
    """espeak-ng version, sample rate, voice languages, and which corpus languages have a voice."""
    engine = _get_engine()
    return {"version": engine.version(), "sample_rate": engine.sample_rate,
            "languages": sorted(engine.languages()),
            "corpus_voices": {lang: engine.has_voice(name) for lang, name in LANGUAGE_VOICES.items()}}
