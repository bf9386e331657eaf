#!/usr/bin/env bash
# Issue 8: ENAT-L's speed at 256 px (8 steps, CFG, batch 64): the official PyTorch code and seer
# on the same random weights in the same run; time per image, images/s, TFLOP/s and the share
# of the GPU's measured peak.
#
#   here:   scripts/gpu-check.sh pack; scripts/gpu-enat-bench.sh pack
#           scripts/device-slim.sh on          (the shipped models would take the tree past 64 MiB;
#                                              `off` after the call)
#   there:  scripts/gpu-enat-bench.sh          (device tool: carry [".gpu"])
#   here:   scripts/gpu-enat-bench.sh cpu      the same flow on the CPU with make_enat's tiny
#                                              config (PyTorch f32, seer f32), to try it out
#
# `pack` copies the files of ENAT's checkout that bench/enat_timing.py imports (REF, default
# /work/ref/ENAT) into .gpu/ref/ENAT (the GPU machine has torch, torchvision, einops, but not
# ENAT's modified timm 0.3.2), and prints what the call would carry (64 MiB in all).
# Steps: bench/enat_timing.py builds the official DiT and VQGAN with random weights, writes them
# as seer files to WORK, counts the FLOPs per image and times the official generation and decode
# (bf16 autocast, f32 without TF32); `seer_bench enat` times seer on the same files (bf16, f32);
# the table is printed last. Logs in $OUT: enat-torch.log, enat-seer.log, enat-table.md.
# Environment: OUT (/tmp), WORK (/tmp/enat_bench), BATCH (64; cpu: 4), ITERS (3), PRESET
#   (enat_l; cpu: tiny), PRECS (bf16,f32; cpu: f32), COMPILE (1: also a bf16 row with the DiT
#   blocks under torch.compile; may take minutes), TORCH_S (200) and SEER_S (75): time limits of
#   the PyTorch step and of each seer run, PY, REF, SEER_BENCH.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
mode=${1:-cuda}

pack() {
  local ref=${REF:-/work/ref/ENAT} py=${PY:-/work/ref/venv/bin/python} dst=.gpu/ref/ENAT
  local files
  mapfile -t files < <("$py" bench/enat_timing.py --list-ref-files --ref "$ref" 2> /dev/null)
  [[ ${#files[@]} -gt 0 ]] || { echo "gpu-enat-bench: cannot import the reference from $ref"; exit 2; }
  rm -rf "$dst" && mkdir -p "$dst"
  for f in "${files[@]}"; do
    mkdir -p "$dst/$(dirname "$f")" && cp "$ref/$f" "$dst/$f"
  done
  echo "copied ${#files[@]} files, $(du -sb "$dst" | cut -f1) bytes, into $dst"
  # What travels: the tracked files, the untracked ones git does not ignore, .gpu.
  local tracked untracked carried mib=1048576
  tracked=$(git ls-files -z | xargs -0 du -cb 2> /dev/null | awk 'END {print $1 + 0}')
  untracked=$(git ls-files -z -o --exclude-standard | xargs -0 -r du -cb 2> /dev/null | awk 'END {print $1 + 0}')
  carried=$(du -sb .gpu | cut -f1)
  awk -v t="$tracked" -v u="$untracked" -v c="$carried" -v m=$mib 'BEGIN {
    printf "the call carries %.1f MiB of 64 (tracked %.1f, untracked %.1f, .gpu %.1f)%s\n",
      (t + u + c) / m, t / m, u / m, c / m, (t + u + c > 64 * m ? ": TOO MUCH (scripts/device-slim.sh on?)" : "") }'
  [[ -f .gpu/seer-gpu.tar.xz ]] || echo "gpu-enat-bench: no .gpu/seer-gpu.tar.xz yet (scripts/gpu-check.sh pack)"
}

extra=()
case "$mode" in
  pack) pack; exit 0 ;;
  cuda)
    source scripts/gpu-check.sh unpack
    set +e  # (gpu-check.sh sets -e): a failing step should not stop the others
    dev=cuda; PY=${PY:-python3}; REF=${REF:-.gpu/ref/ENAT}
    PRESET=${PRESET:-enat_l}; BATCH=${BATCH:-64}; PRECS=${PRECS:-bf16,f32}
    SEER_BENCH=${SEER_BENCH:-$SEER_BIN/seer_bench} ;;
  cpu)
    dev=cpu; PY=${PY:-/work/ref/venv/bin/python}; REF=${REF:-/work/ref/ENAT}
    PRESET=${PRESET:-tiny}; BATCH=${BATCH:-4}; PRECS=${PRECS:-f32}
    SEER_BENCH=${SEER_BENCH:-build/seer_bench}
    # PyTorch's libgomp spins in its barriers by default (bench/RESULTS.md, "CPU and contention")
    export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}; extra=(--threads 2) ;;
  *) echo "usage: scripts/gpu-enat-bench.sh [cuda|cpu|pack]"; exit 2 ;;
esac
out=${OUT:-/tmp}
WORK=${WORK:-/tmp/enat_bench}
ITERS=${ITERS:-3}
[[ ${COMPILE:-0} == 1 ]] && extra+=(--compile)
[[ -x $SEER_BENCH ]] || { echo "gpu-enat-bench: no $SEER_BENCH (set SEER_BENCH)"; exit 2; }
mkdir -p "$WORK" "$out"
rm -f "$WORK"/{enat,vqgan}.safetensors "$WORK/seer_enat.log" "$WORK/torch_enat.jsonl"

echo "== official ENAT ($PRESET) on $dev: weights, FLOPs, generation + decode, batch $BATCH ($(date -u +%T)) =="
[[ $dev == cuda ]] && nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader
timeout "${TORCH_S:-200}" "$PY" bench/enat_timing.py --work "$WORK" --ref "$REF" --preset "$PRESET" --device "$dev" \
  --batch "$BATCH" --iters "$ITERS" --precisions "$PRECS" "${extra[@]}" 2>&1 | tee "$out/enat-torch.log"
[[ -f $WORK/enat.safetensors && -f $WORK/vqgan.safetensors ]] || { echo "gpu-enat-bench: no weights in $WORK"; exit 1; }

for prec in ${PRECS//,/ }; do
  echo "== seer $dev $prec, batch $BATCH ($(date -u +%T)) =="
  timeout "${SEER_S:-75}" "$SEER_BENCH" enat --weights "$WORK/enat.safetensors" --tokenizer "$WORK/vqgan.safetensors" \
    --device "$dev" --precision "$prec" --batch "$BATCH" --iters "$ITERS" 2>&1 | tee -a "$WORK/seer_enat.log"
  echo "   exit ${PIPESTATUS[0]}"
done
cp "$WORK/seer_enat.log" "$out/enat-seer.log"
"$PY" bench/enat_timing.py --table "$WORK" --preset "$PRESET" | tee "$out/enat-table.md"
