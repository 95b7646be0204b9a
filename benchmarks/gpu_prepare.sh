#!/usr/bin/env bash
# Stage what benchmarks/gpu_check.sh needs on a GPU machine that has torch but nothing else
# of ours and no network: PyAV as a wheel for its Python, a tiny synthetic corpus, and
# (optional) the authors' MViT code for the speed comparison. Everything goes into .gpu/
# (git-ignored), which travels with the working tree.
#
#   bash benchmarks/gpu_prepare.sh [LSSD_GIT_DIR]     # LSSD_GIT_DIR: a git dir of
#                                                     # github.com/nikhilsinghmus/lssd
# Env: GPU_PYTHON_VERSION (default 3.12) is the GPU machine's Python.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=.gpu
PYV=${GPU_PYTHON_VERSION:-3.12}
mkdir -p "$STAGE/whl"
AV_VERSION=$(.venv/bin/python -c "import av; print(av.__version__)")
if ! ls "$STAGE"/whl/av-"$AV_VERSION"-*.whl >/dev/null 2>&1; then
  rm -f "$STAGE"/whl/av-*.whl
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$STAGE/whl" "av==$AV_VERSION"
fi
if [ ! -f "$STAGE/corpus/title_002.mkv" ]; then
  # three 24 s titles, titles only (stems and subtitles are not needed there)
  rm -rf "$STAGE/corpus" "$STAGE/corpus.full"
  .venv/bin/dubclr synth corpus "$STAGE/corpus.full" --titles 3 --seed 0 \
    --languages en,es,fr,ja --title-seconds 24 --shots 4,5
  mkdir -p "$STAGE/corpus" && mv "$STAGE"/corpus.full/*.mkv "$STAGE/corpus/" && rm -rf "$STAGE/corpus.full"
fi
if [ -n "${1:-}" ]; then
  rm -rf "$STAGE/lssd" && mkdir -p "$STAGE/lssd"
  git --git-dir "$1" archive HEAD src/models src/utils | tar -x -C "$STAGE/lssd"
fi
du -sh "$STAGE"/* | sed 's/^/[gpu_prepare] /'
