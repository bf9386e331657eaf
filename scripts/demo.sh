#!/usr/bin/env bash
# The main job on a fresh machine: build seer, convert the pretrained CIFAR-10 ResNets found in
# ../shared/data (SEER_DATA), classify a few photos, and measure top-1 on the CIFAR-10 test set.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${SEER_DATA:-../shared/data}

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" > build/build.log 2>&1 || { tail -n 30 build/build.log; exit 1; }

mkdir -p build/models
for depth in 20 56; do
  th=$(ls "$data"/weights/resnet-cifar10/resnet${depth}-*.th)
  [[ -f build/models/resnet${depth}.safetensors ]] ||
    /usr/bin/python3 tools/convert.py "$th" build/models/resnet${depth}.safetensors --arch resnet${depth}
done
export SEER_MODELS=$PWD/build/models

echo "== seer classify (ResNet-56, CIFAR-10 classes) =="
./build/seer classify --model resnet56 --topk 3 "$data"/cifar10/test/cat/0000.jpg "$data"/cifar10/test/ship/0001.jpg
echo
echo "== seer eval top1 on cifar10/test (10,000 JPEG images) =="
./build/seer eval top1 --model resnet56 --data "$data"/cifar10/test --batch 100
echo
echo "Open the desktop app on the same images:"
echo "  SEER_MODELS=$SEER_MODELS build/seer-gui $data/cifar10/test/cat"
