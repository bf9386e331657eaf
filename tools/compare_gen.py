#!/usr/bin/env python3
"""Compare two folders of `seer generate` output made with the same seeds (e.g. CUDA and CPU):
the token grids of each tok_<class>.bin (`--tokens`) and the PNGs of the same name. Prints the
images whose tokens differ, the count of identical grids and the PNGs by their largest
difference in levels. Used by scripts/gpu-enat-continue.sh compare.

    tools/compare_gen.py DIR_A DIR_B
"""
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seer_st  # noqa: E402


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: tools/compare_gen.py DIR_A DIR_B")
    a, b = sys.argv[1:]
    grids = same = 0
    for name in sorted(f for f in os.listdir(b) if f.startswith("tok_") and f.endswith(".bin")):
        x = seer_st.read_safetensors(os.path.join(a, name))[0]["ids"]
        y = seer_st.read_safetensors(os.path.join(b, name))[0]["ids"]
        eq = (x == y).reshape(len(x), -1)
        grids += len(x)
        same += int(eq.all(1).sum())
        for i in np.flatnonzero(~eq.all(1)):
            print(f"{name} image {i}: {int((~eq[i]).sum())} of {eq.shape[1]} tokens differ")
    levels = {}
    for f in sorted(p for p in os.listdir(b) if p.endswith(".png")):
        pa = np.asarray(Image.open(os.path.join(a, f)), int)
        pb = np.asarray(Image.open(os.path.join(b, f)), int)
        d = int(np.abs(pa - pb).max())
        levels[d] = levels.get(d, 0) + 1
    print(f"token grids identical: {same} of {grids}; PNGs by largest difference in levels: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(levels.items())))


if __name__ == "__main__":
    main()
