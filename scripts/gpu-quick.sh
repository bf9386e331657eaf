#!/usr/bin/env bash
# One short GPU session's worth (about 2 minutes on the H200): the CUDA op tests with the
# opt-in routing kernels (SEER_NEW_ROUTE=1) and with the kernels the 2026-12-03 ones replaced
# (SEER_CUDA_NEW=0), the model fixtures on CUDA (routing kernels on), seer's biformer_tiny and
# van_b2 with the default kernels, with the routing kernels and with SEER_CUDA_NEW=0, biformer_tiny in the
# official PyTorch code (eager F32, AMP, torch.compile) in the same run, and seer's per-op
# profile of biformer_tiny. For sessions with too little device time for scripts/gpu-check.sh
# (whole suite, sanitizer) plus scripts/gpu-bench.sh. After `scripts/gpu-check.sh pack` here; on
# the GPU machine, carry [".gpu/seer-gpu.tar.xz", ".gpu/source-dir", ".gpu/ref"]:
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
  for vars in SEER_NEW_ROUTE=1 SEER_CUDA_NEW=0; do
    echo "== $vars: CUDA op tests =="
    env "$vars" "$SEER_BIN"/seer_tests --filter 'cuda_*/*' --jobs 2 2>&1 | grep -E "FAIL|Assert|Synthesis" | tail -n 30
  done
  echo "== the model fixtures on CUDA =="
  SEER_NEW_ROUTE=1 "$SEER_BIN"/seer_tests --filter '*/*cuda*' --jobs 4 2>&1 | grep -E "FAIL|Assert|Synthesis" | tail -n 40
  "$SEER_BIN"/seer_tests --filter 'biformer/golden_cuda*' --verbose 2>&1 | grep -E "golden a bf16 logits"
} > "$out/quick-tests.log" 2>&1
grep -E "==|FAIL|Assert|Synthesis|golden" "$out/quick-tests.log"
# Most important first: a run cut short by the device's time still leaves the earlier logs.
python3 bench/torch_models.py --out /tmp/quick_models --ref .gpu/ref --models biformer_tiny,van_b2 \
  --export-only 2>&1 | grep -v Warning
for m in biformer_tiny van_b2; do
  for vars in SEER_CUDA_NEW=1 SEER_NEW_ROUTE=1 SEER_CUDA_NEW=0; do
    [[ $m == van_b2 && $vars == SEER_NEW_ROUTE=1 ]] && continue
    echo "seer $vars:"
    env "$vars" "$SEER_BIN"/seer_bench model --weights /tmp/quick_models/$m.safetensors \
      --device cuda --precision bf16 --batch "$batch" --iters 10 2>&1
  done
done | tee "$out/quick-bench.log"
python3 bench/torch_models.py --out /tmp/quick_models --ref .gpu/ref --batch "$batch" \
  --models biformer_tiny --compile biformer_tiny 2>&1 | grep -v Warning | tee -a "$out/quick-bench.log"
SEER_PROFILE=1 "$SEER_BIN"/seer_bench model --weights /tmp/quick_models/biformer_tiny.safetensors \
  --device cuda --precision bf16 --batch "$batch" --iters 3 > "$out/quick-profile.log" 2>&1
head -n 20 "$out/quick-profile.log"
