"""Tiny random-weight models of every counterfactual backend, built offline through each
library's own classes and written where that library looks for them.

Nothing here is a stand-in: demucs, openai-whisper, faster-whisper (CTranslate2), NLLB (M2M100)
and SeamlessM4Tv2 load these files with their real loaders and run their real forward passes;
only the weights are random and the sizes tiny, so outputs are noise of the right shape.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import string
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

import pytest

SEED = 0
SEAMLESS_LANGUAGES = ("eng", "spa", "fra", "jpn")
NLLB_LANGUAGES = ("eng_Latn", "spa_Latn", "fra_Latn", "jpn_Jpan")
_LETTERS = "▁" + string.ascii_letters + ".,'?!"


# import name -> pip name of what the 'backends' extra installs
BACKEND_PACKAGES = {"demucs": "demucs", "whisper": "openai-whisper",
                    "faster_whisper": "faster-whisper", "ctranslate2": "ctranslate2",
                    "transformers": "transformers", "sentencepiece": "sentencepiece",
                    "huggingface_hub": "huggingface_hub", "matchering": "matchering"}


def backends_expected() -> bool:
    """`make setup` installs the backends, so by default the suite expects them: a missing one
    fails the tests that need it. DUBCLR_EXPECT_BACKENDS=0 turns that into a skip."""
    return os.environ.get("DUBCLR_EXPECT_BACKENDS", "1") != "0"


def need(*modules: str) -> None:
    missing = [BACKEND_PACKAGES.get(m, m) for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        why = (f"backend package(s) not installed: {', '.join(missing)} (make setup installs the "
               f"'backends' extra)")
        if backends_expected():
            pytest.fail(why + "; set DUBCLR_EXPECT_BACKENDS=0 to skip these tests instead")
        pytest.skip(why)


def point_model_caches(monkeypatch, root: Path) -> Path:
    """Point torch hub, the Hugging Face cache (offline) and openai-whisper's cache at ``root``;
    returns the Hugging Face hub cache folder. huggingface_hub reads its constants at import,
    so they are patched too."""
    hub = root / "hf" / "hub"
    hub.mkdir(parents=True, exist_ok=True)
    for key, value in (("HF_HOME", root / "hf"), ("HF_HUB_CACHE", hub), ("HF_HUB_OFFLINE", "1"),
                       ("TORCH_HOME", root / "torch"), ("XDG_CACHE_HOME", root / "xdg")):
        monkeypatch.setenv(key, str(value))
    if importlib.util.find_spec("huggingface_hub"):
        import huggingface_hub.constants as constants

        monkeypatch.setattr(constants, "HF_HOME", str(root / "hf"))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return hub


def seed_decoders() -> None:
    """Whisper falls back to sampling when greedy decoding looks degenerate (as random weights
    make it): seed both libraries' generators so what the tiny models 'hear' is reproducible."""
    import ctranslate2
    import torch

    torch.manual_seed(0)
    ctranslate2.set_random_seed(0)


def put_in_hf_cache(cache: Path, repo_id: str, files: Path) -> Path:
    """Lay ``files`` out as a Hugging Face hub cache entry of ``repo_id`` (refs/main ->
    snapshots/<revision>/), as ``hf download`` leaves it; returns the snapshot folder."""
    entry = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0" * 40
    (entry / "refs").mkdir(parents=True, exist_ok=True)
    (entry / "refs" / "main").write_text(revision)
    snapshot = entry / "snapshots" / revision
    shutil.copytree(files, snapshot, dirs_exist_ok=True)
    return snapshot


def build_htdemucs(folder: Path, name: str = "htdemucs", signature: str = "0000tiny") -> Path:
    """A one-model bag like ``adefossez/HTDemucs``: ``<name>.yaml`` + ``<signature>.safetensors``
    carrying the class and its arguments as metadata (demucs.hf.load_safetensors_model reads it).
    16 kHz, 2 s segments, 4 channels, depth 2: about 6k parameters."""
    import torch
    from demucs.htdemucs import HTDemucs
    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    kwargs = dict(sources=["drums", "bass", "other", "vocals"], audio_channels=2, samplerate=16000,
                  segment=Fraction(2), channels=4, depth=2, nfft=512, t_layers=1, t_heads=1,
                  dconv_comp=4, t_hidden_scale=1.0)
    model = HTDemucs(**kwargs)
    encoded = {**kwargs, "segment": {"_type": "fraction", "numerator": 2, "denominator": 1}}
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / f"{signature}.safetensors"),
              metadata={"klass": "demucs.htdemucs.HTDemucs", "args": "[]",
                        "kwargs": json.dumps(encoded)})
    (folder / f"{name}.yaml").write_text(f"models: ['{signature}']\n")
    return folder


def build_openai_whisper(path: Path) -> Path:
    """A multilingual (51865-token) Whisper with 16-wide, one-layer towers, saved as the
    ``{"dims", "model_state_dict"}`` checkpoint ``whisper.load_model`` reads. ``n_text_ctx`` 64
    keeps each decode short. The decoder's positional embedding is created with torch.empty
    (NaN in some seeds), so it is initialised here."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(SEED)
    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=16, n_audio_head=2,
                           n_audio_layer=1, n_vocab=51865, n_text_ctx=64, n_text_state=16,
                           n_text_head=2, n_text_layer=1)
    model = Whisper(dims)
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


def build_faster_whisper(folder: Path) -> Path:
    """A CTranslate2 Whisper for faster-whisper, converted from a tiny transformers Whisper whose
    byte-level tokenizer is built from a vocabulary dict (256 bytes + Whisper's special tokens;
    the converter appends the timestamp tokens)."""
    import torch
    from ctranslate2.converters import TransformersConverter
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperForConditionalGeneration,
        WhisperTokenizer,
    )

    torch.manual_seed(SEED)
    vocab = {c: i for i, c in enumerate(sorted(ByteLevel.alphabet()))}
    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|es|>", "<|translate|>",
                "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>",
                "<|notimestamps|>"]
    for token in specials:
        vocab[token] = len(vocab)
    eot = vocab["<|endoftext|>"]
    config = WhisperConfig(vocab_size=len(vocab) + 1501, num_mel_bins=80, d_model=16,
                           encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                           decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16,
                           max_source_positions=1500, max_target_positions=448,
                           pad_token_id=eot, bos_token_id=eot, eos_token_id=eot,
                           decoder_start_token_id=vocab["<|startoftranscript|>"],
                           suppress_tokens=[], begin_suppress_tokens=[eot])
    model = WhisperForConditionalGeneration(config).eval()
    generation = GenerationConfig.from_model_config(config)
    generation._from_model_config = False
    generation.suppress_tokens, generation.begin_suppress_tokens = [], [eot]
    model.generation_config = generation
    source = folder.with_name(folder.name + "-transformers")
    model.save_pretrained(source)
    WhisperTokenizer(vocab=vocab, merges=[], additional_special_tokens=specials[2:]).save_pretrained(source)
    TransformersConverter(str(source), copy_files=["tokenizer.json"]).convert(str(folder), force=True)
    shutil.rmtree(source)
    return folder


def _letters_vocab(first: dict[str, int], languages: tuple[str, ...], wrap: str) -> dict[str, int]:
    vocab = dict(first)
    for token in [*_LETTERS, *(wrap.format(lang) for lang in languages)]:
        vocab[token] = len(vocab)
    return vocab


def build_nllb(folder: Path) -> Path:
    """NLLB-200's architecture (M2M100) with 8-wide one-layer towers and an NllbTokenizer over
    single letters and the language codes."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    torch.manual_seed(SEED)
    vocab = _letters_vocab({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}, NLLB_LANGUAGES, "{}")
    vocab["<mask>"] = len(vocab)
    tokenizer = NllbTokenizer(vocab=vocab, merges=[], additional_special_tokens=list(NLLB_LANGUAGES),
                              src_lang="eng_Latn")
    config = M2M100Config(vocab_size=len(vocab), d_model=8, encoder_layers=1, decoder_layers=1,
                          encoder_ffn_dim=8, decoder_ffn_dim=8, encoder_attention_heads=2,
                          decoder_attention_heads=2, max_position_embeddings=128, pad_token_id=1,
                          bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_seamless_v2(folder: Path) -> Path:
    """SeamlessM4Tv2 (speech and text encoders, text decoder, text-to-unit model and HiFi-GAN
    vocoder) 8 wide with one layer each, its tokenizer over single letters, and the generation
    config's language-code maps that generate() needs (``_from_model_config=False`` so they
    are kept)."""
    import torch
    from transformers import (
        GenerationConfig,
        SeamlessM4TFeatureExtractor,
        SeamlessM4TProcessor,
        SeamlessM4TTokenizer,
        SeamlessM4Tv2Config,
        SeamlessM4Tv2Model,
    )

    torch.manual_seed(SEED)
    vocab = _letters_vocab({"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}, SEAMLESS_LANGUAGES,
                           "__{}__")
    tokenizer = SeamlessM4TTokenizer(vocab=vocab, merges=[],
                                     additional_special_tokens=[f"__{x}__" for x in SEAMLESS_LANGUAGES])
    size = dict(hidden_size=8, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=8,
                decoder_ffn_dim=8, encoder_attention_heads=2, decoder_attention_heads=2,
                speech_encoder_layers=1, speech_encoder_attention_heads=2,
                speech_encoder_intermediate_size=8, t2u_encoder_layers=1, t2u_decoder_layers=1,
                t2u_encoder_ffn_dim=8, t2u_decoder_ffn_dim=8, t2u_encoder_attention_heads=2,
                t2u_decoder_attention_heads=2, t2u_variance_predictor_embed_dim=8,
                t2u_variance_predictor_hidden_dim=4, unit_hifi_gan_vocab_size=20, unit_embed_dim=8,
                lang_embed_dim=4, spkr_embed_dim=4, upsample_initial_channel=32)
    config = SeamlessM4Tv2Config(
        vocab_size=len(vocab), char_vocab_size=len(vocab), t2u_vocab_size=24,
        vocoder_num_langs=len(SEAMLESS_LANGUAGES), vocoder_num_spkrs=2, vocoder_offset=4,
        max_position_embeddings=256, t2u_max_position_embeddings=256, max_new_tokens=20,
        encoder_layerdrop=0.0, decoder_layerdrop=0.0, speech_encoder_layerdrop=0.0,
        pad_token_id=0, bos_token_id=2, eos_token_id=3, decoder_start_token_id=3, **size)
    model = SeamlessM4Tv2Model(config)
    generation = GenerationConfig.from_model_config(config)
    generation._from_model_config = False
    generation.max_new_tokens = 20
    generation.text_decoder_lang_to_code_id = {x: vocab[f"__{x}__"] for x in SEAMLESS_LANGUAGES}
    generation.t2u_lang_code_to_id = {x: 4 + i for i, x in enumerate(SEAMLESS_LANGUAGES)}
    generation.vocoder_lang_code_to_id = {x: i for i, x in enumerate(SEAMLESS_LANGUAGES)}
    generation.id_to_text = {str(i): token for token, i in vocab.items()}
    generation.char_to_id = {token: i for token, i in vocab.items() if len(token) == 1}
    model.generation_config = generation
    model.save_pretrained(folder)
    SeamlessM4TProcessor(feature_extractor=SeamlessM4TFeatureExtractor(),
                         tokenizer=tokenizer).save_pretrained(folder)
    return folder
