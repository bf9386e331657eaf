#!/usr/bin/env bash
# Benchmarks and end-to-end runs on the GPU machine, after `scripts/gpu-check.sh pack` here.
# Carry [".gpu"]; optional inputs placed in .gpu/ before the call:
#   .gpu/cifar_test.tar.xz      the CIFAR-10 test folder (tar of test/<class>/*.jpg)
#   .gpu/models/*.safetensors   converted weights (resnet20, resnet56, ...)
# Prints a short table last; full logs go to $OUT. Environment: SEER_BENCH_MODEL_LIST and
# SEER_BENCH_COMPILE (which of them torch.compile also times; "none": none) pick the model table's
# rows; SEER_BENCH_MODELS=0 / SEER_BENCH_ATTN=0 skip the model / attention tables.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-check.sh unpack
out=${OUT:-/tmp}
export SEER_MODELS=$PWD/.gpu/models

echo "== ops benchmark =="
"$SEER_BIN"/seer_bench ops 2>&1 | tee "$out/bench-ops.log"

if [[ -f .gpu/cifar_test.tar.xz ]]; then
  mkdir -p /tmp/cifar && xz -dc .gpu/cifar_test.tar.xz | tar -C /tmp/cifar -xf -
  for m in resnet20 resnet56; do
    [[ -f .gpu/models/$m.safetensors ]] || continue
    for prec in f32 bf16; do
      echo "== $m cuda $prec: seer eval top1 on cifar10/test =="
      "$SEER_BIN"/seer eval top1 --model $m --device cuda --precision $prec --data /tmp/cifar/test \
        --batch 256 --output "$out/$m-cuda-$prec.jsonl" 2>&1 | grep -E "top-1|speed|images" | tee -a "$out/resnet-cuda.log"
    done
  done
fi

# Model throughput against the PyTorch references (random weights written by the torch script).
if [[ "${SEER_BENCH_MODELS:-1}" == 1 ]] && python3 -c "import timm" 2> /dev/null; then
  echo "== models: PyTorch references (batch 256) =="
  python3 bench/torch_models.py --out /tmp/bench_models --ref .gpu/ref --batch 256 \
    ${SEER_BENCH_MODEL_LIST:+--models $SEER_BENCH_MODEL_LIST} ${SEER_BENCH_COMPILE:+--compile $SEER_BENCH_COMPILE} 2>&1 | grep -v Warning | tee "$out/bench-torch-models.log"
  echo "== models: seer (batch 256) =="
  for w in /tmp/bench_models/*.safetensors; do
    name=$(basename "$w" .safetensors)
    size=224; [[ $name == halonet50ts ]] && size=256
    for prec in f32 bf16; do
      "$SEER_BIN"/seer_bench model --weights "$w" --device cuda --precision $prec --batch 256 \
        --size $size --iters 10 2>&1 | tee -a "$out/bench-seer-models.log"
    done
  done
fi

# Issue 7: dense DeiT-S vs Sparsifiner vs Agent-DeiT-S at 224/384/512, the official references
# (PyTorch eager F32 and bf16 autocast) and seer (f32, bf16) in the same run. The reference files
# come from `bench/attention_table.sh pack` here (.gpu/ref); the tables are the log's last lines.
if [[ "${SEER_BENCH_ATTN:-1}" == 1 ]]; then
  if [[ -f .gpu/ref/Sparsifiner/src/models/sparsifiner.py ]] && python3 -c "import timm" 2> /dev/null; then
    echo "== attention table: dense vs Sparsifiner vs Agent (cuda) =="
    OUT=/tmp/attention_table BATCHES=${SEER_ATTN_BATCHES:-1,64} ITERS=${SEER_ATTN_ITERS:-10} \
      REPEATS=${SEER_ATTN_REPEATS:-3} bash bench/attention_table.sh cuda > "$out/attention-table.log" 2>&1
    tail -n 40 "$out/attention-table.log"
  else
    echo "== attention table skipped: run 'bench/attention_table.sh pack' here first (needs .gpu/ref) =="
  fi
fi
