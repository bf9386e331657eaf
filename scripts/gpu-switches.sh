#!/usr/bin/env bash
# The CUDA kernels that replaced slower ones, timed against them in one run (each switch's
# environment variable brings the old path back): the tensor-core attention (SEER_ATTN_MMA=0:
# FMA kernel; seer_bench attn, DeiT-S blocks), the tiled region attention (SEER_REGION_TILE=0:
# one warp per query; biformer_tiny), cuDNN algorithms timed on first use (SEER_CUDNN_FIND=0:
# heuristics; halonet50ts), our depthwise kernels (SEER_DW_KERNEL=0: cuDNN; van_b2), the
# fused epilogues (SEER_CUDA_FUSED=1: a Linear's bias and residual in cuBLASLt's epilogue, the
# residual in the depthwise kernels; off by default until verified) and the radix-select
# top-k (SEER_TOPK_RADIX=0: whole-row sort; Sparsifiner's key choice at 512). After
# `scripts/gpu-check.sh pack` here; on the GPU machine with carry [".gpu"]:
#   bash scripts/gpu-switches.sh   (log: $OUT/switches.log)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-check.sh unpack
set +e
out=${OUT:-/tmp}
log=$out/switches.log
python3 bench/torch_models.py --out /tmp/switch_models --ref .gpu/ref --models biformer_tiny,halonet50ts,van_b2,volo_d1_224 \
  --export-only 2>&1 | grep -v Warning || true
{
  for on in 1 0; do
    echo "== SEER_ATTN_MMA=$on: seer_bench attn size 224, batch 64, bf16 =="
    SEER_ATTN_MMA=$on "$SEER_BIN"/seer_bench attn --size 224 --batch 64 --iters 10 --device cuda \
      --precision bf16 2>&1 | grep -E "dense|Linears"
  done
  for on in 1 0; do
    echo "== SEER_TOPK_RADIX=$on: seer_bench attn size 512, batch 64, bf16 =="
    SEER_TOPK_RADIX=$on "$SEER_BIN"/seer_bench attn --size 512 --batch 64 --iters 5 --device cuda \
      --precision bf16 2>&1 | grep -E "top-n|top-8"
  done
  for on in 1 0; do
    echo "== SEER_REGION_TILE=$on: biformer_tiny bf16 batch 256 =="
    SEER_REGION_TILE=$on "$SEER_BIN"/seer_bench model --weights /tmp/switch_models/biformer_tiny.safetensors \
      --device cuda --precision bf16 --batch 256 --iters 5 2>&1
  done
  for on in 1 0; do
    echo "== SEER_CUDNN_FIND=$on: halonet50ts bf16 batch 256 =="
    SEER_CUDNN_FIND=$on "$SEER_BIN"/seer_bench model --weights /tmp/switch_models/halonet50ts.safetensors \
      --device cuda --precision bf16 --batch 256 --size 256 --iters 5 2>&1
  done
  for on in 1 0; do
    echo "== SEER_DW_KERNEL=$on: van_b2 bf16 batch 256 =="
    SEER_DW_KERNEL=$on "$SEER_BIN"/seer_bench model --weights /tmp/switch_models/van_b2.safetensors \
      --device cuda --precision bf16 --batch 256 --iters 5 2>&1
    echo "== SEER_DW_KERNEL=$on: van_b2 f32 batch 64 =="
    SEER_DW_KERNEL=$on "$SEER_BIN"/seer_bench model --weights /tmp/switch_models/van_b2.safetensors \
      --device cuda --precision f32 --batch 64 --iters 5 2>&1
  done
  for on in 1 0; do
    echo "== SEER_CUDA_FUSED=$on: biformer_tiny, van_b2, volo_d1_224 bf16 batch 256, DeiT-S Linears =="
    for m in biformer_tiny van_b2 volo_d1_224; do
      SEER_CUDA_FUSED=$on "$SEER_BIN"/seer_bench model --weights /tmp/switch_models/$m.safetensors \
        --device cuda --precision bf16 --batch 256 --iters 5 2>&1
    done
    SEER_CUDA_FUSED=$on "$SEER_BIN"/seer_bench attn --size 224 --batch 64 --iters 10 --device cuda \
      --precision bf16 2>&1 | grep -E "Linears"
  done
} 2>&1 | tee "$log"
