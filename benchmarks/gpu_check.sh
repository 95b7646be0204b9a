#!/usr/bin/env bash
# Run the prepared GPU check on a machine with CUDA torch and no network:
#   bash benchmarks/gpu_check.sh OUT [--only SECTIONS] [--budget SECONDS]
# Installs the staged wheels of .gpu/whl (benchmarks/gpu_prepare.sh) into a temp folder,
# puts src/ on the path and runs benchmarks/gpu_check.py. OUT gets gpu_check.json.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: gpu_check.sh OUT [gpu_check.py options]}
shift
SITE=${TMPDIR:-/tmp}/dubclr_gpu_site
PY=${PYTHON:-python3}
if ls .gpu/whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" --upgrade .gpu/whl/*.whl \
    || { echo "gpu_check: could not install the staged wheels in .gpu/whl" >&2; exit 2; }
fi
export PYTHONPATH="$PWD/src:$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null
exec "$PY" benchmarks/gpu_check.py --out "$OUT" "$@"
