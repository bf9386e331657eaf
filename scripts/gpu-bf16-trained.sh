#!/usr/bin/env bash
# BF16 against F32 with trained weights: each shipped CIFAR-10 model (assets/models) on the whole
# cifar10/test on CUDA, in F32 and in BF16, and the share of images whose top-1 (and top-5 set)
# is the same. The ImageNet agreement runs (scripts/gpu-agree.sh) can only use random weights,
# whose classes lie within BF16 rounding of each other; these models separate their classes.
#
#   here:   scripts/gpu-check.sh pack; MODELS="volo van biformer" scripts/gpu-bf16-trained.sh pack
#           (.gpu/cifar_test.tar.xz, 3 MB, and the chosen models in .gpu/models);
#           scripts/device-slim.sh on (the binaries, the images and all six classifiers would
#           exceed the device tool's 64 MiB: three models a call fit)
#   there:  bash scripts/gpu-bf16-trained.sh             (device tool: carry [".gpu"])
# Logs: $OUT/bf16-trained.log (per model: seer's top-1 in each precision, then the agreement).
# Environment: MODELS (pack: families, default "volo van biformer"; the others are halonet,
#   sparsifiner, agent), BATCH (256).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
if [[ ${1:-} == pack ]]; then
  mkdir -p .gpu/models
  tar -C ../shared/data/cifar10 -cf - test | xz -T"$(nproc)" -6 > .gpu/cifar_test.tar.xz
  for f in ${MODELS:-volo van biformer}; do cp "assets/models/${f}_cifar.safetensors" .gpu/models/ || exit 2; done
  ls -la .gpu/cifar_test.tar.xz .gpu/models
  exit 0
fi
source scripts/gpu-check.sh unpack
set +e  # (gpu-check.sh sets -e): one model failing should not stop the others
out=${OUT:-/tmp}
log=$out/bf16-trained.log
[[ -f .gpu/cifar_test.tar.xz ]] || { echo "gpu-bf16-trained: no .gpu/cifar_test.tar.xz (pack here first)"; exit 2; }
mkdir -p /tmp/cifar && xz -dc .gpu/cifar_test.tar.xz | tar -C /tmp/cifar -xf -
models=$(ls .gpu/models/*_cifar.safetensors)
: > "$log"
for w in $models; do
  name=$(basename "$w" .safetensors)
  for prec in f32 bf16; do
    echo "== $name cuda $prec ==" | tee -a "$log"
    "$SEER_BIN"/seer eval top1 --weights "$w" --device cuda --precision $prec --data /tmp/cifar/test \
      --batch "${BATCH:-256}" --output "/tmp/$name-$prec.jsonl" 2>&1 | grep -E "top-1|images" | tee -a "$log"
  done
  python3 tools/agree_jsonl.py "/tmp/$name-f32.jsonl" "/tmp/$name-bf16.jsonl" --name "$name bf16 vs f32" | tee -a "$log"
done
