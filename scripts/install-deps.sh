#!/usr/bin/env bash
# Installs what seer needs to build and test, from Debian's packages. Safe to run again.
# Usage: scripts/install-deps.sh [--with-torch]   (--with-torch adds python3-torch for tools/)
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libopenblas-dev libopenblas-openmp-dev liblapacke-dev zlib1g-dev libjpeg62-turbo-dev libturbojpeg0-dev libpng-dev libstb-dev
      libjansson-dev libcriterion-dev libsdl2-dev libsdl2-ttf-dev fonts-dejavu-core xvfb
      python3-numpy)
if [[ "${1:-}" == "--with-torch" ]]; then
  pkgs+=(python3-torch python3-torchvision python3-pil python3-scipy)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#pkgs[@]} packages present"
