#!/usr/bin/env bash
# The main job on the bundled synthetic corpus: build the corpus, index it, train a toy
# monolingual model (EN) and a toy dub-augmented one (a_s cycles ES, FR, JA) from prepared
# shot shards, then evaluate both on held-out titles. Re-running continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/demo}
DUBCLR=".venv/bin/dubclr"
mkdir -p "$OUT"
start=$(date +%s)

step() { printf '\n== [%ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

step "1/7 synthetic dubbed corpus -> $OUT/corpus"
if [ ! -f "$OUT/corpus/labels.json" ]; then
  rm -rf "$OUT/corpus"
  $DUBCLR synth corpus "$OUT/corpus" --titles 12 --seed 0 --languages en,es,fr,ja
fi

step "2/7 probe: titles x languages x durations"
$DUBCLR media probe "$OUT/corpus"

step "3/7 index: shots and tracks -> $OUT/catalog.sqlite"
$DUBCLR index "$OUT/corpus" --catalog "$OUT/catalog.sqlite" --jobs 2
$DUBCLR catalog stats "$OUT/catalog.sqlite" --plot "$OUT/catalog.png"

step "4/7 shards: each kept shot's picture (80 px short side, the toy training scale) and tracks -> $OUT/shards"
$DUBCLR shards build "$OUT/catalog.sqlite" "$OUT/shards" --short-side 80 --workers 2

step "5/7 train toy EN (monolingual: a_s is English again)"
$DUBCLR train configs/toy/EN.yaml data.catalog="$OUT/catalog.sqlite" data.shards="$OUT/shards" \
  run_dir="$OUT/train/EN" --resume auto

step "6/7 train toy EFJ (dub-augmented: a_s cycles es, fr, ja)"
$DUBCLR train configs/toy/EFJ.yaml data.catalog="$OUT/catalog.sqlite" data.shards="$OUT/shards" \
  run_dir="$OUT/train/EFJ" --resume auto

step "7/7 toy benchmark on held-out titles (probes + cross-language retrieval)"
$DUBCLR bench toy --checkpoints "$OUT/train/EN" "$OUT/train/EFJ" --names EN EFJ \
  --corpus "$OUT/corpus" --out "$OUT/bench" --seeds 0,1 --max-epochs 50

printf '\nDemo finished in %ss. Everything is under %s:\n' "$(( $(date +%s) - start ))" "$OUT"
printf '  corpus      %s\n  catalog     %s (plot %s)\n  shards      %s\n  runs        %s, %s (curves.png in each)\n  benchmark   %s\n' \
  "$OUT/corpus" "$OUT/catalog.sqlite" "$OUT/catalog.png" "$OUT/shards" "$OUT/train/EN" "$OUT/train/EFJ" \
  "$OUT/bench/toy_bench.html"
