#!/usr/bin/env bash
# The main job on the bundled synthetic corpus: build the corpus, index it, train a toy
# monolingual model and a toy dub-augmented one, embed and evaluate them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/demo}
DUBCLR=".venv/bin/dubclr"
export DUBCLR_NO_PROGRESS=${DUBCLR_NO_PROGRESS:-0}
mkdir -p "$OUT"
start=$(date +%s)

step() { printf '\n== %s\n' "$*"; }

step "1/2 synthetic dubbed corpus -> $OUT/corpus"
if [ ! -f "$OUT/corpus/labels.json" ]; then
  $DUBCLR synth corpus "$OUT/corpus" --titles 12 --seed 0 --languages en,es,fr,ja
fi
step "2/2 probe: titles x languages x durations"
$DUBCLR media probe "$OUT/corpus"

printf '\nDemo finished in %ss. Outputs under %s\n' "$(( $(date +%s) - start ))" "$OUT"
