#!/usr/bin/env bash
# Dense DeiT-S vs Sparsifiner vs Agent-DeiT-S at 224/384/512, PyTorch references and seer in
# the same run (issue 7's table; results in bench/RESULTS.md).
#
#   bench/attention_table.sh cpu    here: PyTorch F32 + seer F32 on the CPU
#   bench/attention_table.sh cuda   on the GPU machine (scripts/gpu-bench.sh calls it with
#                                   SEER_BENCH_ATTN=1): adds bf16 (autocast / --precision bf16)
#   bench/attention_table.sh pack   here: copies the reference files it reads (and yacs) into
#                                   .gpu/ref, which travels with `carry [".gpu"]`
#
# Each repeat runs, per input size: bench/torch_attention.py (whole forward and attention
# alone, median of ITERS; the first repeat also writes the weights), then `seer_bench model` on
# those weights and `seer_bench attn` (seer's attention stage by stage). `uptime` is logged
# before each step (the machine may be shared). bench/torch_attention.py --table OUT prints the
# table: per cell the median over the repeats.
#
# Environment: SIZES (224,384,512), BATCHES (1,8), ITERS (3), REPEATS (3), THREADS (2 on cpu),
#   OUT (/tmp/attention_table), REF (/work/ref here, .gpu/ref on the GPU machine),
#   PY (the interpreter with torch + timm), SEER_BENCH (build/seer_bench, $SEER_BIN/seer_bench).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
mode=${1:-cpu}
SIZES=${SIZES:-224,384,512}
BATCHES=${BATCHES:-1,8}
ITERS=${ITERS:-3}
REPEATS=${REPEATS:-3}
OUT=${OUT:-/tmp/attention_table}

pack() {
  local ref=${REF:-/work/ref} dst=.gpu/ref
  local files=(Sparsifiner/src/models/sparsifiner.py Sparsifiner/src/config/default_config.py
               Sparsifiner/experiments-results-analysis/experiments/sparsifiner_default_config.yaml
               Agent-Attention/agent_transformer/models/agent_deit.py
               Agent-Attention/agent_transformer/models/deit.py)
  for f in "${files[@]}"; do
    [[ -f $ref/$f ]] || { echo "attention_table: $ref/$f is missing"; exit 2; }
    mkdir -p "$dst/$(dirname "$f")" && cp "$ref/$f" "$dst/$f"
  done
  # yacs (pure Python) for Sparsifiner's config; the GPU machine cannot reach PyPI
  local yacs
  yacs=$(${PY:-/work/ref/venv/bin/python} -c 'import os, yacs; print(os.path.dirname(yacs.__file__))')
  mkdir -p "$dst/pydeps" && rm -rf "$dst/pydeps/yacs" && cp -r "$yacs" "$dst/pydeps/yacs"
  rm -rf "$dst/pydeps/yacs/__pycache__"
  du -sh "$dst"
}

case "$mode" in
  pack) pack; exit 0 ;;
  cpu)
    dev=cpu; precs=(f32); bf16=()
    PY=${PY:-/work/ref/venv/bin/python}; REF=${REF:-/work/ref}
    SEER_BENCH=${SEER_BENCH:-build/seer_bench}
    # PyTorch's libgomp spins in its barriers by default, which costs it 2-3x whenever another
    # process wants a core (bench/RESULTS.md, "CPU and contention"); seer sets PASSIVE itself.
    THREADS=${THREADS:-2}; export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} ;;
  cuda)
    dev=cuda; precs=(f32 bf16); bf16=(--bf16)
    PY=${PY:-python3}; REF=${REF:-.gpu/ref}
    SEER_BENCH=${SEER_BENCH:-${SEER_BIN:-build}/seer_bench}
    THREADS=${THREADS:-0} ;;
  *) echo "usage: bench/attention_table.sh [cpu|cuda|pack]"; exit 2 ;;
esac
[[ -x $SEER_BENCH ]] || { echo "attention_table: no $SEER_BENCH (set SEER_BENCH)"; exit 2; }
mkdir -p "$OUT"
rm -f "$OUT/torch_attention.jsonl" "$OUT/seer.log"
log() { echo "$*" | tee -a "$OUT/seer.log"; }

for rep in $(seq 1 "$REPEATS"); do
  for size in ${SIZES//,/ }; do
    log "# repeat $rep size $size torch start: $(uptime)"
    weights=(); [[ $rep -gt 1 ]] && weights=(--no-weights)
    "$PY" bench/torch_attention.py --out "$OUT" --ref "$REF" --device $dev --sizes "$size" \
      --batches "$BATCHES" --threads "$THREADS" --iters "$ITERS" "${bf16[@]}" "${weights[@]}" \
      2>&1 | grep -v -E "Warning|warn|hf_api"
    for model in deit sparsifiner agent; do
      for batch in ${BATCHES//,/ }; do
        for prec in "${precs[@]}"; do
          log "# repeat $rep model $model size $size batch $batch $prec: $(uptime)"
          "$SEER_BENCH" model --weights "$OUT/${model}_${size}.safetensors" --device $dev --precision "$prec" \
            --batch "$batch" --size "$size" --iters "$ITERS" 2>&1 | sed "s/^/[$model $size $rep] /" | tee -a "$OUT/seer.log"
        done
      done
    done
    for batch in ${BATCHES//,/ }; do
      for prec in "${precs[@]}"; do
        log "# repeat $rep attn size $size batch $batch $prec: $(uptime)"
        "$SEER_BENCH" attn --size "$size" --batch "$batch" --iters "$ITERS" --device $dev --precision "$prec" \
          2>&1 | sed "s/^/[attn $size $batch $rep] /" | tee -a "$OUT/seer.log"
      done
    done
  done
done
"$PY" bench/torch_attention.py --flops --sizes "$SIZES" | tee "$OUT/flops.md"
"$PY" bench/torch_attention.py --table "$OUT" | tee "$OUT/table.md"
