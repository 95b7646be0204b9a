"""Configuration of the counterfactual-dub pipeline: one dataclass per stage, backends by name.

Two presets ship with the package (``presets/*.yaml``): ``paper`` (Demucs, Whisper, SeamlessM4T,
as in the paper's section 6; needs model weights) and ``offline`` (given stems or VAD gating,
subtitle sidecars, espeak-ng, Praat; runs with no downloads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dubclr.config import load_config
from dubclr.errors import ConfigError

PRESETS_DIR = Path(__file__).parent / "presets"


@dataclass
class SeparateConfig:
    backend: Literal["demucs", "stems", "vad-gate"] = "demucs"
    demucs_model: str = "htdemucs"
    device: str = "cpu"
    vad: Literal["silero", "energy"] = "silero"  # speech regions for vad-gate
    gate_threshold_db: float = 6.0  # vad-gate: bins within this of the noise profile are background


@dataclass
class TranscribeConfig:
    backend: Literal["whisper", "pocketsphinx", "subtitles"] = "whisper"
    whisper_impl: Literal["auto", "openai", "faster"] = "auto"
    whisper_model: str = "small"
    source_language: str = "en"  # used when the track is not language-tagged
    device: str = "cpu"


@dataclass
class TranslateConfig:
    backend: Literal["seamless", "nllb", "subtitles", "none"] = "none"
    # subtitles backend, a title without target-language subtitles: 'fail' (checked before any
    # work) or 'revoice': the source text spoken by the target-language voice, labelled
    # "re-voiced, not translated" in the manifest and the track title; never a fake translation
    missing_subtitles: Literal["fail", "revoice"] = "fail"
    nllb_model: str = "facebook/nllb-200-distilled-600M"
    seamless_model: str = "facebook/seamless-m4t-v2-large"
    device: str = "cpu"


@dataclass
class SynthesizeConfig:
    backend: Literal["seamless", "espeak"] = "seamless"
    seamless_model: str = "facebook/seamless-m4t-v2-large"
    espeak_voice: str = ""  # '' = the language's default voice
    espeak_rate: int = 160  # words per minute
    espeak_pitch: int = 50  # 0..99
    device: str = "cpu"


@dataclass
class AlignConfig:
    min_ratio: float = 0.5  # the most a segment may be compressed
    max_ratio: float = 2.0  # the most a segment may be stretched
    frame_ms: float = 40.0  # WSOLA frame
    trim_silence_db: float = -40.0  # leading/trailing silence of the synthesis is cut first

    def __post_init__(self):
        if not 0 < self.min_ratio <= 1 <= self.max_ratio:
            raise ConfigError(f"align: need 0 < min_ratio <= 1 <= max_ratio, got "
                              f"{self.min_ratio}, {self.max_ratio}")


@dataclass
class VoiceConfig:
    backend: Literal["praat", "lvc", "none"] = "praat"
    max_formant_shift: float = 1.25  # formant ratio clamp, both ways
    # LVC-VC: an external checkout (github.com/wonjune-kang/lvc-vc) and its weights.
    lvc_dir: str = ""
    lvc_script: str = "inference_wav2vec.py"
    lvc_config: str = "config/config_wav2vec_ecapa_c32.yaml"
    lvc_weights: str = "weights/lvc_vc_xl_vctk.pt"
    lvc_speaker_encoder: str = "weights/ecapa_tdnn_pretrained.pt"
    lvc_python: str = "python3"
    lvc_gpu: int = 0


@dataclass
class MasterConfig:
    loudness: bool = True
    eq: Literal["envelope", "matchering", "none"] = "envelope"
    max_eq_gain_db: float = 12.0
    matchering_min_seconds: float = 3.0  # shorter segments fall back to the envelope match


@dataclass
class RemixConfig:
    peak_dbfs: float = -1.0  # the mix is scaled down if it would peak above this
    # also write OUT/titles/<title>.separated.flac (the background estimate), the speech-removed
    # track `dubclr index` attaches to a title for the 'separated' dub policy
    write_separated: bool = True


@dataclass
class CounterfactualConfig:
    languages: list[str] = field(default_factory=lambda: ["es", "fr", "ja"])
    sample_rate: int = 48000  # working and output rate of the new tracks
    separate: SeparateConfig = field(default_factory=SeparateConfig)
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    synthesize: SynthesizeConfig = field(default_factory=SynthesizeConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    master: MasterConfig = field(default_factory=MasterConfig)
    remix: RemixConfig = field(default_factory=RemixConfig)

    def __post_init__(self):
        if self.sample_rate < 8000:
            raise ConfigError(f"sample_rate: {self.sample_rate} is too low (>= 8000)")
        if self.translate.backend == "none" and self.synthesize.backend != "seamless":
            raise ConfigError("translate.backend 'none' means speech-to-speech, which only "
                              "synthesize.backend 'seamless' does; pick a text translator "
                              "(subtitles, nllb, seamless) for espeak")


def resolve_config_path(name_or_path: str | Path | None) -> Path | None:
    """A preset name ('offline', 'paper') or a YAML path."""
    if name_or_path is None:
        return None
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    preset = PRESETS_DIR / f"{name_or_path}.yaml"
    if not preset.is_file():
        names = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
        raise ConfigError(f"config {name_or_path!r} is neither a YAML file nor a preset ({names})")
    return preset


def load_counterfactual_config(name_or_path: str | Path | None = None,
                               overrides: list[str] | tuple[str, ...] = ()) -> CounterfactualConfig:
    return load_config(CounterfactualConfig, resolve_config_path(name_or_path), overrides)
