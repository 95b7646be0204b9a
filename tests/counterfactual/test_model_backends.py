"""Every model backend run for real: the real library loads tiny random-weight models from its
usual cache (offline) and runs them on real speech (tiny_models.py, real_speech.py)."""

import socket
import sys

import numpy as np
import pytest
from tiny_models import seed_decoders

from dubclr.counterfactual.config import SeparateConfig, TranscribeConfig, TranslateConfig
from dubclr.errors import BackendUnavailableError
from dubclr.media import read_audio


@pytest.fixture(scope="module")
def speech(speech_title):
    """The title's first 5 s (three phrases) at 48 kHz."""
    return read_audio(speech_title.video, 0.0, 5.0, sample_rate=48000)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (the hub retries would hide in a log)."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_demucs_reads_the_hugging_face_cache_it_names(tiny_model_files, empty_model_caches,
                                                     monkeypatch, speech, no_network):
    """demucs 4.1 keeps models on the Hugging Face hub: the fetch command the error prints is
    for the cache require() reads, and loading never touches the network, even with
    HF_HUB_OFFLINE unset (demucs's get_model retried the hub ~24 s per worker)."""
    import huggingface_hub.constants
    from tiny_models import build_htdemucs, put_in_hf_cache

    from dubclr.counterfactual.backends import demucs_separator

    cfg = SeparateConfig(backend="demucs")
    with pytest.raises(BackendUnavailableError, match=r"hf download adefossez/HTDemucs") as err:
        demucs_separator.require(cfg)
    assert "955717e8" in str(err.value)  # the legacy torch hub file is named too
    put_in_hf_cache(empty_model_caches, "adefossez/HTDemucs",
                    build_htdemucs(empty_model_caches.parent / "build"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    demucs_separator.require(cfg)
    demucs_separator._model.cache_clear()
    out, background = demucs_separator.separate(speech, 48000, cfg)
    assert out.shape == background.shape == speech.shape
    assert np.isfinite(out).all() and np.abs(out).max() > 0 and np.abs(background).max() > 0


@pytest.mark.parametrize("impl", ["openai", "faster"])
def test_whisper_segments_stay_inside_the_audio(tiny_backends, speech, impl):
    """Both Whisper implementations, each from a local checkpoint path; tiny random weights
    time 'speech' anywhere in Whisper's 30 s window: what comes back lies inside the 5 s."""
    from dubclr.counterfactual.backends import whisper_asr

    model = tiny_backends.openai_whisper if impl == "openai" else tiny_backends.faster_whisper
    cfg = TranscribeConfig(whisper_impl="auto", whisper_model=str(model))
    assert whisper_asr._impl(cfg) == impl
    whisper_asr.require(cfg)
    seed_decoders()
    segments = whisper_asr.transcribe(speech, 48000, "en", cfg)
    assert segments, "the tiny model transcribed nothing: the test would check nothing"
    assert all(0 <= s.start < s.end <= 5.0 and s.duration >= 0.1 and s.text for s in segments)


def test_faster_whisper_raw_output_runs_past_the_audio(tiny_backends, speech):
    """What the clipping is for: the same model's raw segments end past the 5 s (as real
    faster-whisper did, 29.98 s on a 16.9 s title)."""
    from faster_whisper import WhisperModel

    from dubclr.media import resample

    model = WhisperModel(str(tiny_backends.faster_whisper), device="cpu", compute_type="int8")
    seed_decoders()
    raw, _ = model.transcribe(resample(speech, 48000, 16000), language="en")
    assert max(s.end for s in raw) > 5.0


def test_faster_whisper_by_name_from_the_cache(tiny_backends, speech):
    from dubclr.counterfactual.backends import whisper_asr

    cfg = TranscribeConfig(whisper_impl="faster", whisper_model="small")
    whisper_asr.require(cfg)
    seed_decoders()
    assert all(s.end <= 5.0 for s in whisper_asr.transcribe(speech, 48000, "en", cfg))


def test_nllb_translates_a_batch(tiny_backends):
    from dubclr.counterfactual.backends.nllb_mt import require, translate

    cfg = TranslateConfig(backend="nllb")
    require(cfg)
    out = translate(["Front center.", "Rear left, please?"], "en", "es", cfg)
    assert len(out) == 2 and all(isinstance(t, str) and t for t in out)


def test_seamless_text_speech_and_speech_to_speech(tiny_backends, speech):
    from dubclr.counterfactual.backends import seamless_m4t

    repo = "facebook/seamless-m4t-v2-large"
    seamless_m4t.require(repo, "test")
    (text,) = seamless_m4t.translate_text(["Front center."], "en", "fr", repo, "cpu")
    assert isinstance(text, str)
    for samples, rate in (seamless_m4t.text_to_speech("Front center.", "es", repo, "cpu"),
                          seamless_m4t.speech_to_speech(speech[:48000], 48000, "ja", repo, "cpu")):
        assert rate == 16000 and samples.ndim == 1 and len(samples) > 0
        assert np.isfinite(samples).all()


def test_speech_to_speech_refuses_empty_speech_with_a_dubclr_error(tiny_backends):
    """The processor's own error on empty audio (a ValueError) aborted whole runs."""
    from transformers import AutoProcessor

    from dubclr.counterfactual.backends import seamless_m4t
    from dubclr.counterfactual.backends.hub import require_hf_model

    repo = "facebook/seamless-m4t-v2-large"
    processor = AutoProcessor.from_pretrained(require_hf_model(repo, "test"))
    with pytest.raises(ValueError):
        processor(audio=np.zeros(0, np.float32), sampling_rate=16000, return_tensors="pt")
    with pytest.raises(seamless_m4t.SpeechInputError, match="too short"):
        seamless_m4t.speech_to_speech(np.zeros(0, np.float32), 48000, "es", repo, "cpu")
    assert seamless_m4t.audio_keyword(processor) == "audio"


def test_matchering_moves_a_segment_toward_the_reference(speech_title):
    """matchering (no model) on real speech: the output follows the reference's level."""
    from dubclr.counterfactual.backends.matchering_eq import matchering_match, require
    from dubclr.counterfactual.master import loudness_lufs

    require()
    reference = read_audio(speech_title.video, 0.0, 6.0, sample_rate=48000)
    quiet = 0.05 * read_audio(speech_title.video, 6.5, 6.0, sample_rate=48000)
    out = matchering_match(quiet, reference, 48000)
    assert len(out) == len(quiet)
    before = abs(loudness_lufs(quiet, 48000) - loudness_lufs(reference, 48000))
    assert abs(loudness_lufs(out, 48000) - loudness_lufs(reference, 48000)) < before / 2


STAND_IN = '''"""LVC-VC's inference_wav2vec.py command line; writes the source at the target's level, 24 kHz."""
import argparse, os, sys
import numpy as np
from scipy.io import wavfile
p = argparse.ArgumentParser()
for short, long in (("-c", "--config"), ("-p", "--lvc_vc_weights"), ("-e", "--se_weights"),
                    ("-s", "--source_file"), ("-t", "--target_file"), ("-o", "--output_file")):
    p.add_argument(short, long, required=True)
p.add_argument("-g", "--gpu_idx", type=int, default=0)
a = p.parse_args()
if os.environ.get("HF_HUB_OFFLINE") != "1":
    sys.exit("would download facebook/wav2vec2-large-xlsr-53")
for path in (a.config, a.lvc_vc_weights, a.se_weights):
    open(path).close()
rate, src = wavfile.read(a.source_file)
_, tgt = wavfile.read(a.target_file)
out = src / np.sqrt(np.mean(src ** 2) + 1e-12) * np.sqrt(np.mean(tgt ** 2))
wavfile.write(a.output_file, 24000, np.interp(np.arange(len(src) * 3 // 2) / 1.5,
              np.arange(len(src)), out).astype(np.float32))
'''


def test_lvc_vc_needs_its_content_model_and_keeps_the_contract(tmp_path, empty_model_caches):
    """require() checks facebook/wav2vec2-large-xlsr-53 (LVC-VC loads it at run time, so offline
    every segment failed after the preflight passed); convert() runs the checkout's script with
    upstream's flags, offline, and reads its output back at the working rate and length."""
    from tiny_models import put_in_hf_cache

    from dubclr.counterfactual.backends import lvc_vc
    from dubclr.counterfactual.config import VoiceConfig

    checkout = tmp_path / "lvc-vc"
    for rel in ("config/config_wav2vec_ecapa_c32.yaml", "weights/lvc_vc_xl_vctk.pt",
                "weights/ecapa_tdnn_pretrained.pt"):
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        (checkout / rel).write_text("stand-in")
    (checkout / "inference_wav2vec.py").write_text(STAND_IN)
    cfg = VoiceConfig(backend="lvc", lvc_dir=str(checkout), lvc_python=sys.executable)
    with pytest.raises(BackendUnavailableError, match="wav2vec2-large-xlsr-53"):
        lvc_vc.require(cfg)
    (tmp_path / "w2v").mkdir()
    (tmp_path / "w2v" / "config.json").write_text("{}")
    put_in_hf_cache(empty_model_caches, lvc_vc.CONTENT_MODEL, tmp_path / "w2v")
    lvc_vc.require(cfg)
    t = np.arange(48000) / 48000
    synth = (0.1 * np.sin(2 * np.pi * 200 * t[:24000])).astype(np.float32)
    reference = (0.5 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    out = lvc_vc.convert(synth, reference, 48000, cfg)
    assert len(out) == len(synth)
    assert np.std(out) == pytest.approx(5 * np.std(synth), rel=0.1)  # the target speaker's level
    (checkout / "inference_wav2vec.py").write_text("import sys; sys.exit('CUDA out of memory')")
    with pytest.raises(BackendUnavailableError, match="CUDA out of memory"):
        lvc_vc.convert(synth, reference, 48000, cfg)
