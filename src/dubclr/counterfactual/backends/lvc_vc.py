"""Voice conversion with an external LVC-VC checkout (the paper's step 5).

LVC-VC is not a package: point ``voice.lvc_dir`` at a clone of github.com/wonjune-kang/lvc-vc
with its ``weights/`` downloaded. Each segment pair is handed to its inference script
(``-c CONFIG -p WEIGHTS -e SPEAKER_ENCODER -g GPU -s SOURCE -t TARGET -o OUT``, 16 kHz WAVs),
run with ``HF_HUB_OFFLINE=1``: the script loads ``facebook/wav2vec2-large-xlsr-53`` through
transformers, which must already be in the Hugging Face cache.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from dubclr.counterfactual.audio import fit_length, read_wav, write_wav
from dubclr.counterfactual.config import VoiceConfig
from dubclr.errors import BackendUnavailableError
from dubclr.media import resample

_RATE = 16000
CONTENT_MODEL = "facebook/wav2vec2-large-xlsr-53"  # LVC-VC's content encoder, loaded at run time


def require(cfg: VoiceConfig) -> None:
    if not cfg.lvc_dir:
        raise BackendUnavailableError(
            "voice.backend 'lvc' needs an LVC-VC checkout: git clone "
            "https://github.com/wonjune-kang/lvc-vc, download its weights/ (see its README) and "
            "set voice.lvc_dir=PATH; or use voice.backend=praat")
    root = Path(cfg.lvc_dir)
    for rel in (cfg.lvc_script, cfg.lvc_config, cfg.lvc_weights, cfg.lvc_speaker_encoder):
        if not (root / rel).is_file():
            raise BackendUnavailableError(
                f"voice.backend 'lvc': {root / rel} is missing; the checkout needs its inference "
                f"script, config and the pretrained weights from the LVC-VC README")
    from dubclr.counterfactual.backends.hub import require_hf_snapshot

    require_hf_snapshot(CONTENT_MODEL, "voice.backend 'lvc' (LVC-VC's content encoder)")


def convert(synth: np.ndarray, reference: np.ndarray, rate: int, cfg: VoiceConfig) -> np.ndarray:
    root = Path(cfg.lvc_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="dubclr-lvc-") as tmp:
        src, ref, out = Path(tmp, "source.wav"), Path(tmp, "target.wav"), Path(tmp, "out.wav")
        write_wav(src, resample(synth, rate, _RATE), _RATE)
        write_wav(ref, resample(reference, rate, _RATE), _RATE)
        cmd = [cfg.lvc_python, cfg.lvc_script, "-c", cfg.lvc_config, "-p", cfg.lvc_weights,
               "-e", cfg.lvc_speaker_encoder, "-g", str(cfg.lvc_gpu), "-s", str(src), "-t", str(ref),
               "-o", str(out)]
        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if done.returncode != 0 or not out.is_file():
            raise BackendUnavailableError(f"LVC-VC failed ({' '.join(cmd)}): "
                                          f"{done.stderr.strip()[-500:]}")
        converted, out_rate = read_wav(out)
    return fit_length(resample(converted, out_rate, rate), len(synth))
