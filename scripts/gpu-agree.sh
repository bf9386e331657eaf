#!/usr/bin/env bash
# ImageNet-val agreement of seer's CUDA backend, F32 and BF16, with the references (their own
# random init, seed 0: volo_d1_224, halonet26t with --random-bn, van_b0, biformer_tiny, and the
# ViT family of issue 7: deit_small_patch16_224, sparsifiner with --predictor-scale 50,
# agent_deit_tiny, each with compare_vit.py's redrawn head), and PyTorch's own BF16 (autocast)
# against its F32 as the yardstick for seer's BF16.
#
#   here:   PACK_BINS=seer scripts/gpu-check.sh pack; scripts/gpu-agree.sh pack
#           mkdir -p .imnet && cp -r ../shared/data/imagenet-val-1300/val .imnet/
#           scripts/device-slim.sh lean             (the tree, the pack and the images fit 64 MiB
#                                                   only without the models and fixtures; `off` after)
#   there:  scripts/gpu-agree.sh                    (device tool: carry [".gpu/seer-gpu.tar.xz",
#                                                   ".gpu/source-dir", ".gpu/ref", ".imnet"])
#   here:   scripts/gpu-agree.sh cpu                the same flow on the CPU (reference F32 and
#                                                   BF16 autocast, seer f32 only), to try it out
#
# `pack` copies the official files the VAN and BiFormer references import (also what
# bench/torch_models.py reads) from REF (/work/ref) into .gpu/ref, with those of Sparsifiner and
# Agent-Attention and yacs (bench/attention_table.sh pack), and prints what the call would
# carry: the device tool takes 64 MiB in all.
# Per preset: tools/golden/compare_<family>.py --ref-bf16 writes the weights and the reference's
# F32 and BF16 logits; `seer classify` runs in each precision; the compare step prints seer's
# agreement next to PyTorch BF16's. One log per preset and summary.txt (printed last) go to $OUT.
# Environment: OUT (/tmp), WORK (/tmp/agree: weights, logits), IMAGES (.imnet/val), LIMIT (0:
#   every image, else the first N), PRESETS (the seven above, comma separated), PY (python3;
#   cpu: /work/ref/venv/bin/python), REF (.gpu/ref; cpu: /work/ref), SEER_BIN (cpu: build).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
dev=${1:-cuda}

pack() {
  local ref=${REF:-/work/ref} dst=.gpu/ref
  REF=$ref bench/attention_table.sh pack || exit 2  # the ViT references and yacs
  local files=(VAN-Classification/models/van.py BiFormer/models/biformer.py BiFormer/models/_common.py
               BiFormer/ops/bra_legacy.py BiFormer/datasets.py)
  for f in "${files[@]}"; do
    [[ -f $ref/$f ]] || { echo "gpu-agree: $ref/$f is missing"; exit 2; }
    mkdir -p "$dst/$(dirname "$f")" && cp "$ref/$f" "$dst/$f"
  done
  echo "copied ${#files[@]} files, $(cd "$dst" && du -cb "${files[@]}" | tail -1 | cut -f1) bytes, into $dst"
  # What travels: the tracked files, the untracked ones git does not ignore, the carried folders.
  local tracked untracked carried=0 mib=1048576
  tracked=$(git ls-files -z | xargs -0 du -cb 2> /dev/null | awk 'END {print $1 + 0}')
  untracked=$(git ls-files -z -o --exclude-standard | xargs -0 -r du -cb 2> /dev/null | awk 'END {print $1 + 0}')
  for d in .gpu .imnet; do
    [[ -d $d ]] && carried=$((carried + $(du -sb "$d" | cut -f1)))
  done
  [[ -d .imnet/val ]] || echo "gpu-agree: no .imnet/val yet (cp -r ../shared/data/imagenet-val-1300/val .imnet/)"
  awk -v t="$tracked" -v u="$untracked" -v c="$carried" -v m=$mib 'BEGIN {
    printf "the call carries %.1f MiB of 64 (tracked %.1f, untracked %.1f, .gpu + .imnet %.1f)%s\n",
      (t + u + c) / m, t / m, u / m, c / m, (t + u + c > 64 * m ? ": TOO MUCH" : "") }'
}

case "$dev" in
  pack) pack; exit 0 ;;
  cuda)
    source scripts/gpu-check.sh unpack
    set +e  # (gpu-check.sh sets -e): a failing preset should not stop the others
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
    precs=(f32 bf16); PY=${PY:-python3}; REF=${REF:-$PWD/.gpu/ref} ;;
  cpu)
    precs=(f32); PY=${PY:-/work/ref/venv/bin/python}; REF=${REF:-/work/ref}
    SEER_BIN=${SEER_BIN:-build} ;;
  *) echo "usage: scripts/gpu-agree.sh [cuda|cpu|pack]"; exit 2 ;;
esac
out=${OUT:-/tmp}
WORK=${WORK:-/tmp/agree}
IMAGES=${IMAGES:-.imnet/val}
LIMIT=${LIMIT:-0}
PRESETS=${PRESETS:-volo_d1_224,halonet26t,van_b0,biformer_tiny,deit_small_patch16_224,sparsifiner,agent_deit_tiny}
[[ -x $SEER_BIN/seer ]] || { echo "gpu-agree: no $SEER_BIN/seer"; exit 2; }
[[ -d $IMAGES ]] || { echo "gpu-agree: no images in $IMAGES"; exit 2; }
mkdir -p "$WORK" "$out"
"$PY" -c 'import torch, timm; print("torch", torch.__version__, "timm", timm.__version__)'

# One summary row: preset, what, top-5 sets, top-1, logits rel-L2 (image-dependent part).
row() { printf '%-22s %-22s %-22s %-22s %s\n' "$@" >> "$WORK/summary.txt"; }
summarize() {  # preset, label, compare output
  local t5 t1 rel
  t5=$(sed -nE 's/^  identical top-5 sets: +(.*)/\1/p' "$3")
  t1=$(sed -nE 's/^  identical top-1: +(.*)/\1/p' "$3")
  rel=$(sed -nE 's/^logits: .*\), rel-L2 ([^;]+); image-dependent part: rel-L2 ([^ ]+) .*/\1 (\2)/p' "$3")
  row "$1" "$2" "${t5:-failed}" "${t1:-failed}" "${rel:-failed}"
}
summarize_torch() {  # preset, compare output
  local line t5 t1 rel
  line=$(sed -nE 's/^PyTorch BF16 \(autocast\) vs reference F32: [0-9]+ images; identical top-5 sets ([^,]+), identical top-1 ([^,]+), logits rel-L2 ([^ ]+) \(image-dependent part ([^)]+)\).*/\1|\2|\3 (\4)/p' "$2" | head -1)
  IFS='|' read -r t5 t1 rel <<< "$line"
  row "$1" "PyTorch bf16 autocast" "${t5:-failed}" "${t1:-failed}" "${rel:-failed}"
}

: > "$WORK/summary.txt"
row preset run "top-5 sets identical" "top-1 identical" "logits rel-L2 (image-dependent part)"
for preset in ${PRESETS//,/ }; do
  tag=$preset extra=()
  case "$preset" in
    volo*) family=volo ;;
    halonet*) family=halonet; extra=(--random-bn); tag=$preset.bn ;;
    van*) family=van; extra=(--ref "$REF") ;;
    biformer*) family=biformer; extra=(--ref "$REF") ;;
    deit*|agent_deit*) family=vit; extra=(--ref "$REF") ;;
    sparsifiner) family=vit; tag=$preset.p50; extra=(--ref "$REF" --predictor-scale 50 --tag "$tag") ;;
    *) echo "gpu-agree: unknown preset $preset"; continue ;;
  esac
  cmp=("tools/golden/compare_$family.py" --out "$WORK" --images "$IMAGES" --preset "$preset" --limit "$LIMIT"
       --device "$dev" --ref-bf16 "${extra[@]}")
  log=$out/agree-$preset.log
  echo "== $preset: weights and reference F32 + BF16 on $dev ($(date -u +%T)) ==" | tee "$log"
  if ! "$PY" "${cmp[@]}" --list-out "$WORK/$preset.files.txt" >> "$log" 2>&1; then
    echo "   failed: see $log"; row "$preset" "reference" failed; continue
  fi
  mapfile -t files < "$WORK/$preset.files.txt"
  for prec in "${precs[@]}"; do
    res=$WORK/$tag.seer-$dev-$prec
    echo "== $preset: seer $dev $prec on ${#files[@]} images ($(date -u +%T)) ==" | tee -a "$log"
    start=$SECONDS
    "$SEER_BIN"/seer classify --weights "$WORK/$tag.safetensors" --device "$dev" --precision "$prec" \
      --format jsonl --topk 5 --output "$res.jsonl" --logits "$res.logits.safetensors" "${files[@]}" >> "$log" 2>&1
    echo "   seer exit $?, $((SECONDS - start)) s" | tee -a "$log"
    "$PY" "${cmp[@]}" --seer-jsonl "$res.jsonl" --seer-logits "$res.logits.safetensors" > "$res.compare.txt" 2>&1
    grep -v -E "Warning|warnings.warn|hf_api" "$res.compare.txt" >> "$log"
    summarize "$preset" "seer $dev $prec" "$res.compare.txt"
  done
  summarize_torch "$preset" "$res.compare.txt"
done
cp "$WORK/summary.txt" "$out/agree-summary.txt"
echo "== summary (logs: $out/agree-*.log) =="
cat "$WORK/summary.txt"
