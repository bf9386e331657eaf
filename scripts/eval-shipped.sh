#!/usr/bin/env bash
# Measures the shipped CIFAR-10 models with seer itself (C engine, CPU): the numbers of the
# README's "Shipped models" table. Needs ../shared/data (SEER_DATA) and a build (build/).
#   scripts/eval-shipped.sh classifiers    top-1 of each classifier + ResNet-56 reference line
#   scripts/eval-shipped.sh tokenizer      reconstruction PSNR and FID (resnet56-cifar features)
#   scripts/eval-shipped.sh enat [N]       FID and prompt accuracy at 4, 8, 16 steps, N images
#                                          per class (default 1000: 10,000 images); ENAT_STEPS
#                                          replaces the step counts, ENAT_GEN_ARGS adds
#                                          `seer generate` options (other sampler settings:
#                                          --cfg 3 --samp-temp 3), ENAT_WEIGHTS another
#                                          generator file (e.g. a candidate before shipping),
#                                          ENAT_REAL the real images FID compares with, under
#                                          SEER_DATA (default cifar10/test; candidates are
#                                          chosen against cifar10/train)
#   scripts/eval-shipped.sh latency        params and CPU latency per image (batch 1)
#   scripts/eval-shipped.sh gui            the desktop app's own timings (SDL offscreen, CPU):
#                                          classify one image with each classifier, generate
#                                          1 and 8 images with ENAT (needs build/seer-gui)
# Logs and generated images go to build/eval-shipped/; a summary is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${SEER_DATA:-../shared/data}
seer=${SEER:-build/seer}
gui=${SEER_GUI:-build/seer-gui}
bench=${SEER_BENCH:-build/seer_bench}
out=build/eval-shipped
mkdir -p "$out" build/models
export SEER_MODELS=$PWD/assets/models:$PWD/build/models
classifiers=(volo_cifar halonet_cifar van_cifar biformer_cifar sparsifiner_cifar agent_cifar)
test=$data/cifar10/test

resnet56() { # the pretrained reference network (features for FID, judge of prompt accuracy)
  [[ -f build/models/resnet56.safetensors ]] ||
    /usr/bin/python3 tools/convert.py "$(ls "$data"/weights/resnet-cifar10/resnet56-*.th)" \
      build/models/resnet56.safetensors --arch resnet56 > /dev/null
}

top1() { grep -E '^top-1' "$1" | awk '{print $2}'; }

case "${1:-}" in
  classifiers)
    resnet56
    for m in resnet56 "${classifiers[@]}"; do
      "$seer" eval top1 --model "$m" --data "$test" --batch 100 --device cpu > "$out/top1-$m.txt"
      printf '%-20s top-1 %s  (%s)\n' "$m" "$(top1 "$out/top1-$m.txt")" \
        "$(grep -E '^speed' "$out/top1-$m.txt" | cut -c12-)"
    done
    ;;
  tokenizer)
    resnet56
    rm -rf "$out/recon"
    "$seer" tokenize --weights assets/models/vq_cifar.safetensors --size 32 --batch 100 \
      --device cpu --out "$out/recon" "$test" > "$out/tokenizer.txt"
    grep -i psnr "$out/tokenizer.txt" | tail -n 2
    "$seer" eval fid --real "$test" --fake "$out/recon" --features resnet56-cifar --device cpu \
      > "$out/tokenizer-fid.txt"
    grep -i fid "$out/tokenizer-fid.txt" | tail -n 2
    ;;
  enat)
    resnet56
    n=${2:-1000}
    weights=${ENAT_WEIGHTS:-assets/models/enat_cifar.safetensors}
    real=$data/${ENAT_REAL:-cifar10/test}
    tag=enat
    [[ -z ${ENAT_WEIGHTS:-} ]] || tag=enat-$(basename "$weights" .safetensors)
    classes=(airplane automobile bird cat deer dog frog horse ship truck)
    for steps in ${ENAT_STEPS:-4 8 16}; do
      dir=$out/$tag-$steps
      rm -rf "$dir"
      start=$(date +%s)
      for c in "${!classes[@]}"; do
        "$seer" generate --model enat_cifar --weights "$weights" --class "$c" --n "$n" \
          --steps "$steps" --batch 100 --seed $((c * 100000)) --device cpu \
          --out "$dir/${classes[$c]}" ${ENAT_GEN_ARGS:-} > /dev/null
      done
      secs=$(( $(date +%s) - start ))
      "$seer" eval fid --real "$real" --fake "$dir" --features resnet56-cifar --device cpu \
        > "$dir-fid.txt"
      "$seer" eval top1 --model resnet56 --data "$dir" --batch 100 --device cpu > "$dir-prompt.txt"
      fmt='%s %2d steps: %s; prompt accuracy (ResNet-56 top-1 = prompted class) %s; %d images in %d s\n'
      printf "$fmt" "$tag" "$steps" "$(grep -i -E '^fid' "$dir-fid.txt" | head -n 1)" \
        "$(top1 "$dir-prompt.txt")" $((n * 10)) "$secs"
    done
    ;;
  latency)
    for m in "${classifiers[@]}"; do
      "$bench" model --weights "assets/models/$m.safetensors" --batch 1 --size 32 --iters 200 \
        > "$out/latency-$m.txt" 2>&1
      printf '%-20s %s\n' "$m" "$(tail -n 1 "$out/latency-$m.txt")"
    done
    ;;
  gui)
    # One scripted session; `stats` prints the worker's time of the last job (classification:
    # decode + preprocess + forward, after the model is loaded; generation: all steps + decode).
    img=$test/horse/0000.jpg
    script=$out/gui-speed.script
    : > "$script"
    for m in "${classifiers[@]}"; do
      { echo "model assets/models/$m.safetensors"; echo "open $img"; echo wait
        for _ in 1 2 3; do echo classify; echo wait; echo "echo $m"; echo stats; done; } >> "$script"
    done
    { echo "generator assets/models/enat_cifar.safetensors assets/models/vq_cifar.safetensors"; echo wait
      echo "mode generate"
      for n in 1 1 8; do
        echo "generate class=horse seed=1 steps=8 count=$n"; echo wait; echo "echo generate $n"; echo stats
      done; echo quit; } >> "$script"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    SDL_VIDEODRIVER=offscreen "$gui" --size 1280x800 --script "$script" > "$out/gui-speed.txt"
    awk '/^stats:/ { for (i = 1; i <= NF; i++) if ($i ~ /^latency_ms=/) { split($i, v, "="); ms = v[2] + 0 } }
         /^stats:/ && name != "" { if (!(name in lo) || ms < lo[name]) lo[name] = ms
                                   if (!(name in hi) || ms > hi[name]) hi[name] = ms; runs[name]++ }
         !/^stats:/ { name = $0 }
         END { for (k in lo) printf "%-22s %8.1f - %8.1f ms over %d runs\n", k, lo[k], hi[k], runs[k] }' \
      "$out/gui-speed.txt" | sort
    ;;
  *) sed -n 2,13p "$0"; exit 2 ;;
esac
