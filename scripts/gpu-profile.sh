#!/usr/bin/env bash
# Where the time goes on the GPU: seer's per-op profile (SEER_PROFILE=1, core/profile.h) and
# PyTorch's own (torch.profiler, AMP) for the same backbones on the same random weights.
# After `scripts/gpu-check.sh pack` here; on the GPU machine with carry [".gpu"]:
#   bash scripts/gpu-profile.sh [model,...]     (default volo_d1_224,halonet50ts,biformer_tiny,van_b2)
# Environment: PROFILE_BATCH (64), PROFILE_PRECISION (bf16). Logs: $OUT/profile-<model>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-check.sh unpack
set +e  # gpu-check.sh sets -e; one failing model must not end the others
out=${OUT:-/tmp}
models=${1:-volo_d1_224,halonet50ts,biformer_tiny,van_b2}
batch=${PROFILE_BATCH:-64}
prec=${PROFILE_PRECISION:-bf16}
python3 bench/torch_models.py --out /tmp/profile_models --ref .gpu/ref --models "$models" \
  --export-only 2>&1 | grep -v Warning || true
for name in ${models//,/ }; do
  size=224; [[ $name == halonet50ts ]] && size=256
  log=$out/profile-$name.log
  echo "== $name: seer $prec batch $batch size $size ==" | tee "$log"
  SEER_PROFILE=1 "$SEER_BIN"/seer_bench model --weights /tmp/profile_models/$name.safetensors \
    --device cuda --precision "$prec" --batch "$batch" --size $size --iters 3 >> "$log" 2>&1
  python3 bench/torch_profile.py --weights-of "$name" --ref .gpu/ref --batch "$batch" --size $size \
    >> "$log" 2>&1
  head -n 24 "$log"
done

# The tensor-core attention (core/cuda/attention_mma.cu) against the FMA kernel it replaces:
# seer_bench attn (DeiT-S blocks) with SEER_ATTN_MMA=1 and 0. PROFILE_ATTN=0 skips it.
if [[ ${PROFILE_ATTN:-1} != 0 ]]; then
  for size in 224 384; do
    for mma in 1 0; do
      echo "== seer_bench attn size $size batch 64 bf16, SEER_ATTN_MMA=$mma ==" | tee -a "$out/profile-attn.log"
      SEER_ATTN_MMA=$mma "$SEER_BIN"/seer_bench attn --size $size --batch 64 --iters 10 --device cuda \
        --precision bf16 2>&1 | tee -a "$out/profile-attn.log" | tail -n 8
    done
  done
fi
