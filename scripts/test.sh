#!/usr/bin/env bash
# Builds seer with its tests and runs them (what the README's test command runs).
# The CUDA backend is compiled when nvcc is present; its tests skip without a GPU.
# The build must be warning-free: a warning fails this script.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSEER_BUILD_TESTS=ON > /dev/null
if ! cmake --build build -j"$(nproc)" > build/build.log 2>&1; then
  grep -E -B2 -A6 "error" build/build.log | head -n 80
  echo "test.sh: build failed (full log: build/build.log)"
  exit 1
fi
if grep -q -E "warning" build/build.log; then
  grep -E -A4 "warning" build/build.log | head -n 60
  echo "test.sh: the build has warnings (full log: build/build.log)"
  exit 1
fi
./build/seer_tests --jobs 2
# The desktop app end to end without a screen (SDL's offscreen driver): scripted clicks,
# screenshots checked not to be blank, generated PNGs checked for their metadata.
scripts/gui-smoke.sh build
