#!/usr/bin/env bash
# The device tool sends the tracked files plus the carried ones, 64 MiB in all. With the shipped
# models (assets/models, 39.4 MB) the tracked files alone are about 57 MB, too much beside the CIFAR
# packs that training carries (23 MB). Before such a call:
#   scripts/device-slim.sh on    untrack assets/models in the index only (the files stay on disk
#                                and are ignored through .git/info/exclude), so they stay here
#   scripts/device-slim.sh lean  the same for tests/golden too (15.6 MiB of fixtures), for calls
#                                that run no tests (ImageNet agreement, BF16 with trained
#                                weights, training): the tree sent is then about 2.6 MiB
#   scripts/device-slim.sh off   restore the index and the exclude file (after either)
# Never commit while it is on (the commit would delete the models).
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=.git/info/exclude
untrack() { # folder: out of the index, ignored here
  git rm -r -q --cached "$1"
  grep -qxF "/$1/" "$exclude" || echo "/$1/" >> "$exclude"
}
case "${1:-}" in
  on | lean)
    untrack assets/models
    [[ $1 == lean ]] && untrack tests/golden
    echo "untracked for the device call: assets/models$([[ $1 == lean ]] && echo ", tests/golden");" \
      "run 'scripts/device-slim.sh off' after it"
    ;;
  off)
    for dir in assets/models tests/golden; do
      git reset -q -- "$dir"
      sed -i "\#^/${dir}/\$#d" "$exclude"
    done
    git status --short -- assets/models tests/golden
    ;;
  *) sed -n 2,12p "$0"; exit 2 ;;
esac
