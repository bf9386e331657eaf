#!/usr/bin/env bash
# The CUDA kernels that replaced slower ones, timed against them in one run (each switch's
# environment variable brings the old path back): the tensor-core attention (SEER_ATTN_MMA=0:
# FMA kernel; seer_bench attn, DeiT-S blocks), the tensor-core region attention
# (SEER_REGION_MMA=0: the tiled FMA kernel; biformer_tiny), the tiled region attention
# (SEER_REGION_TILE=0 with SEER_REGION_MMA=0: one warp per query), cuDNN algorithms timed on first use (SEER_CUDNN_FIND=0:
# heuristics; halonet50ts), our depthwise kernels (SEER_DW_KERNEL=0: cuDNN; van_b2), the
# fused epilogues (SEER_CUDA_FUSED=1: a Linear's residual, and in F32 its bias, in cuBLASLt's
# epilogue, the residual in the depthwise kernels; off by default) and the radix-select
# top-k (SEER_TOPK_RADIX=0: whole-row sort; Sparsifiner's key choice at 512), the vectorized
# bias add (SEER_BIAS_VEC=0) and the channel-pair depthwise kernel (SEER_DW_PAIR=0), and the
# kernels of 2026-12-03 (SEER_CUDA_NEW=0 brings back what they replaced: depthwise on channel
# vectors, Linear + GELU and Linear + residual in one pass, LayerNorm in registers). After
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
# One timed model run with a switch set: VAR VALUE MODEL PRECISION BATCH [seer_bench args...]
model_run() {
  local var=$1 val=$2 m=$3 prec=$4 batch=$5
  shift 5
  env "$var=$val" "$SEER_BIN"/seer_bench model --weights "/tmp/switch_models/$m.safetensors" \
    --device cuda --precision "$prec" --batch "$batch" --iters 5 "$@" 2>&1
}
# seer_bench attn with a switch set, the lines matching PATTERN: VAR VALUE SIZE ITERS PATTERN
attn_run() {
  env "$1=$2" "$SEER_BIN"/seer_bench attn --size "$3" --batch 64 --iters "$4" --device cuda \
    --precision bf16 2>&1 | grep -E "$5"
}
{
  for on in 1 0; do
    echo "== SEER_ATTN_MMA=$on: seer_bench attn size 224, batch 64, bf16 =="
    attn_run SEER_ATTN_MMA $on 224 10 "dense|Linears"
  done
  for on in 1 0; do
    echo "== SEER_TOPK_RADIX=$on: seer_bench attn size 512, batch 64, bf16 =="
    attn_run SEER_TOPK_RADIX $on 512 5 "top-n|top-8"
  done
  for on in 1 0; do
    echo "== SEER_REGION_MMA=$on: biformer_tiny bf16 batch 256 =="
    model_run SEER_REGION_MMA $on biformer_tiny bf16 256
  done
  for on in 1 0; do
    echo "== SEER_REGION_TILE=$on (SEER_REGION_MMA=0): biformer_tiny bf16 batch 256 =="
    SEER_REGION_MMA=0 model_run SEER_REGION_TILE $on biformer_tiny bf16 256
  done
  for on in 1 0; do
    echo "== SEER_CUDNN_FIND=$on: halonet50ts bf16 batch 256 =="
    model_run SEER_CUDNN_FIND $on halonet50ts bf16 256 --size 256
  done
  for on in 1 0; do
    echo "== SEER_DW_KERNEL=$on: van_b2 bf16 batch 256, f32 batch 64 =="
    model_run SEER_DW_KERNEL $on van_b2 bf16 256
    model_run SEER_DW_KERNEL $on van_b2 f32 64
  done
  for var in SEER_BIAS_VEC SEER_DW_PAIR; do
    for on in 1 0; do
      echo "== $var=$on: biformer_tiny, van_b2 bf16 batch 256 =="
      for m in biformer_tiny van_b2; do model_run $var $on $m bf16 256; done
    done
  done
  for on in 1 0; do
    echo "== SEER_CUDA_NEW=$on: biformer_tiny, van_b2 bf16 batch 256 =="
    for m in biformer_tiny van_b2; do model_run SEER_CUDA_NEW $on $m bf16 256; done
  done
  for on in 1 0; do
    echo "== SEER_CUDA_FUSED=$on: biformer_tiny, van_b2, volo_d1_224 bf16 batch 256, DeiT-S Linears =="
    for m in biformer_tiny van_b2 volo_d1_224; do model_run SEER_CUDA_FUSED $on $m bf16 256; done
    attn_run SEER_CUDA_FUSED $on 224 10 "Linears"
  done
} 2>&1 | tee "$log"
