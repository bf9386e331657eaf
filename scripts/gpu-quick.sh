#!/usr/bin/env bash
# One short GPU session's worth (about 5 minutes on the H200): the CUDA op tests and the model
# fixtures with the opt-in kernels on (SEER_CUDA_NEW=1), BiFormer's one-image BF16 fixture with
# each opt-in kernel turned off alone (SEER_NEW_*=0), seer's biformer_tiny and van_b2 with
# them on and off, biformer_tiny in the official PyTorch code (eager F32, AMP, torch.compile)
# in the same run, and seer's per-op profile of biformer_tiny. For sessions with
# too little device time for scripts/gpu-check.sh (whole suite, sanitizer) plus
# scripts/gpu-bench.sh. After `scripts/gpu-check.sh pack` here; on the GPU machine, carry
# [".gpu/seer-gpu.tar.xz", ".gpu/source-dir", ".gpu/ref"]:
#   bash scripts/gpu-quick.sh     (logs under $OUT: quick-tests.log, quick-bench.log,
#                                  quick-profile.log)
# QUICK_BATCH (256) sets the timing batch.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-check.sh unpack
set +e
out=${OUT:-/tmp}
batch=${QUICK_BATCH:-256}
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  echo "== SEER_CUDA_NEW=1: CUDA op tests, then the model fixtures on CUDA =="
  SEER_CUDA_NEW=1 "$SEER_BIN"/seer_tests --filter 'cuda_*/*' --jobs 2 2>&1 | grep -E "FAIL|Assert|rel|Synthesis" | tail -n 30
  SEER_CUDA_NEW=1 "$SEER_BIN"/seer_tests --filter '*/*cuda*' --jobs 4 2>&1 | grep -E "FAIL|Assert|bf16|Synthesis" | tail -n 40
  # Which opt-in kernel moves BiFormer's one-image BF16 logits (fixture a): each turned off alone.
  for part in none SEER_NEW_DW SEER_NEW_LINEAR_ADD SEER_NEW_LINEAR_GELU SEER_NEW_LN SEER_NEW_ROUTE all; do
    vars=(SEER_CUDA_NEW=1)
    [[ $part == all ]] && vars=(SEER_CUDA_NEW=0)
    [[ $part == SEER_* ]] && vars+=("$part=0")
    echo "== BiFormer BF16 logits, ${vars[*]} =="
    env "${vars[@]}" "$SEER_BIN"/seer_tests --filter 'biformer/golden_cuda*' --verbose 2>&1 |
      grep -E "golden a bf16 (stage4|logits)"
  done
  echo "== default kernels: region attention and BiFormer on CUDA =="
  "$SEER_BIN"/seer_tests --filter 'cuda_region_attention/*' --jobs 2 2>&1 | grep -E "FAIL|Assert|Synthesis"
  "$SEER_BIN"/seer_tests --filter 'biformer/*' --jobs 2 2>&1 | grep -E "FAIL|Assert|Synthesis"
} > "$out/quick-tests.log" 2>&1
grep -E "==|FAIL|Synthesis" "$out/quick-tests.log"
# Most important first: a run cut short by the device's time still leaves the earlier logs.
python3 bench/torch_models.py --out /tmp/quick_models --ref .gpu/ref --models biformer_tiny,van_b2 \
  --export-only 2>&1 | grep -v Warning
for m in biformer_tiny van_b2; do
  for new in 1 0; do
    echo "seer SEER_CUDA_NEW=$new:"
    SEER_CUDA_NEW=$new "$SEER_BIN"/seer_bench model --weights /tmp/quick_models/$m.safetensors \
      --device cuda --precision bf16 --batch "$batch" --iters 10 2>&1
  done
done | tee "$out/quick-bench.log"
python3 bench/torch_models.py --out /tmp/quick_models --ref .gpu/ref --batch "$batch" \
  --models biformer_tiny --compile biformer_tiny 2>&1 | grep -v Warning | tee -a "$out/quick-bench.log"
SEER_CUDA_NEW=1 SEER_PROFILE=1 "$SEER_BIN"/seer_bench model --weights /tmp/quick_models/biformer_tiny.safetensors \
  --device cuda --precision bf16 --batch "$batch" --iters 3 > "$out/quick-profile.log" 2>&1
head -n 20 "$out/quick-profile.log"
