#!/usr/bin/env python3
"""Average seer weights files of one model (a "model soup" of checkpoints of the same run or of
runs continued from one another): every float tensor becomes the weighted mean of the inputs'
(int8 inputs are read back as float32); the output is stored in the first input's dtypes
(F16 stays F16; an int8 tensor is written as F32, so quantize again with tools/quantize.py).
Metadata comes from the first input, with seer.averaged_from recording the inputs and weights.
The file is written atomically.

    tools/average_weights.py OUT.safetensors A.safetensors B.safetensors [--weights 0.5 0.5]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seer_st  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--weights", type=float, nargs="+", help="one per input (default: equal)")
    a = ap.parse_args()
    if len(a.inputs) < 2:
        raise SystemExit("give at least two input files")
    w = a.weights or [1.0 / len(a.inputs)] * len(a.inputs)
    if len(w) != len(a.inputs):
        raise SystemExit(f"{len(w)} weights for {len(a.inputs)} inputs")
    if abs(sum(w) - 1.0) > 1e-6:
        raise SystemExit(f"weights sum to {sum(w)}, not 1")
    files = [seer_st.read_safetensors(p) for p in a.inputs]
    first, meta = files[0]
    for p, (t, _) in zip(a.inputs[1:], files[1:]):
        if set(t) != set(first):
            diff = sorted(set(t) ^ set(first))[:5]
            raise SystemExit(f"{p}: tensor names differ from {a.inputs[0]} (e.g. {diff})")
        for n, x in t.items():
            if x.shape != first[n].shape:
                raise SystemExit(f"{p}: {n} has shape {x.shape}, {a.inputs[0]} {first[n].shape}")
    out = {}
    for n, x in first.items():
        if not np.issubdtype(x.dtype, np.floating):
            for p, (t, _) in zip(a.inputs[1:], files[1:]):
                if not np.array_equal(t[n], x):
                    raise SystemExit(f"{p}: non-float tensor {n} differs; cannot average it")
            out[n] = x
            continue
        acc = sum(wi * t[n].astype(np.float64) for wi, (t, _) in zip(w, files))
        out[n] = acc.astype(x.dtype if x.dtype == np.float16 else np.float32)
    meta = dict(meta)
    meta.pop("seer.quantized", None)
    meta["seer.averaged_from"] = json.dumps(
        [{"file": os.path.basename(p), "weight": wi} for p, wi in zip(a.inputs, w)])
    seer_st.write_safetensors(a.out, out, meta)
    print(f"{a.out}: mean of {len(a.inputs)} files, {len(out)} tensors")


if __name__ == "__main__":
    main()
