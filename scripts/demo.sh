#!/usr/bin/env bash
# The main job on a fresh machine: build seer, then run the models it ships (assets/models,
# trained by us on CIFAR-10): ENAT draws 4 images of every class, the best shipped classifier
# (VAN, 92.16% on the test set) names them back, and a table shows the result. Needs nothing
# outside this repo.
set -euo pipefail
cd "$(dirname "$0")/.."

b=${SEER_BUILD:-build}  # build folder
cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$b" -j"$(nproc)" > "$b/build.log" 2>&1 || { tail -n 30 "$b/build.log"; exit 1; }

out=$b/demo/generated
rm -rf "$b/demo" && mkdir -p "$b/demo"
classes=(airplane automobile bird cat deer dog frog horse ship truck)
echo "== seer generate: ENAT (enat_cifar, 8 steps) draws 4 images of each CIFAR-10 class =="
for c in "${classes[@]}"; do
  "$b/seer" generate --model enat_cifar --class "$c" --n 4 --steps 8 --seed 1 --out "$out/$c" \
    > "$b/demo/generate.log" 2>&1 || { cat "$b/demo/generate.log"; exit 1; }
done
echo "$(find "$out" -name '*.png' | wc -l) PNGs in $out/<class>/"
echo
echo "== seer classify: van_cifar names them back =="
"$b/seer" classify --model van_cifar --topk 1 --format csv "$out" > "$b/demo/classified.csv"
awk -F, 'NR > 1 && $2 == "ok" {
           n = split($1, p, "/"); want = p[n - 1]; got[want] = got[want] " " $5
           total[want]++; if ($5 == want) hit[want]++; all++; if ($5 == want) hits++ }
         END { printf "%-12s %-44s %s\n", "prompt", "classified as", "agree"
               for (c in total) printf "%-12s%-45s %d/%d\n", c, got[c], hit[c], total[c] | "sort"
               close("sort"); printf "\n%d of %d generated images are classified as their prompt\n", hits, all }' \
  "$b/demo/classified.csv"
echo
echo "Next:"
echo "  $b/seer-gui $out            # the desktop app on these images (Ctrl+3: Generate mode)"
echo "  $b/seer eval top1 --model van_cifar --data ../shared/data/cifar10/test   # real test images"
