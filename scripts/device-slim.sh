#!/usr/bin/env bash
# The device tool sends the tracked files plus the carried ones, 64 MiB in all. With the shipped
# models (assets/models, 38.5 MB) the tracked files alone are 56 MB, too much beside the CIFAR
# packs that training carries (23 MB). Before such a call:
#   scripts/device-slim.sh on    untrack assets/models in the index only (the files stay on disk
#                                and are ignored through .git/info/exclude), so they stay here
#   scripts/device-slim.sh off   restore the index and the exclude file
# Never commit while it is on (the commit would delete the models).
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=.git/info/exclude
line=/assets/models/
case "${1:-}" in
  on)
    git rm -r -q --cached assets/models
    grep -qxF "$line" "$exclude" || echo "$line" >> "$exclude"
    echo "assets/models untracked for the device call; run 'scripts/device-slim.sh off' after it"
    ;;
  off)
    git reset -q -- assets/models
    sed -i "\#^${line}\$#d" "$exclude"
    git status --short -- assets/models
    ;;
  *) sed -n 2,9p "$0"; exit 2 ;;
esac
