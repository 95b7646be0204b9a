"""The bundled synthetic dubbed corpus (procedural scenes and sounds, espeak-ng dialogue)."""

from dubclr.synth.corpus import CorpusOptions, build_corpus
from dubclr.synth.tts import synthesize

__all__ = ["CorpusOptions", "build_corpus", "synthesize"]
