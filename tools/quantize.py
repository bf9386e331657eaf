#!/usr/bin/env python3
"""Store a seer weights file's large float matrices as int8 (seer's quantized storage,
core/weights.h): each float tensor with ndim >= 2 and at least --min-numel elements becomes
NAME (I8) plus NAME.qscale (F32, one symmetric scale per row of the first dim); everything else
is kept as stored. Metadata is kept, with seer.quantized recording what was done. seer and
tools/seer_st.py read such files back as float32; the file is written atomically.

    tools/quantize.py IN.safetensors OUT.safetensors [--min-numel 4096]
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
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--min-numel", type=int, default=4096)
    a = ap.parse_args()
    tensors, meta = seer_st.read_safetensors(a.src, dequantized=False)
    if any(n.endswith(seer_st.QSCALE) for n in tensors):
        raise SystemExit(f"{a.src}: already quantized")
    out, n_q, worst = {}, 0, 0.0
    for name, arr in tensors.items():
        if arr.dtype.kind == "f" and arr.ndim >= 2 and arr.size >= a.min_numel:
            q, scale = seer_st.quantize_rows(arr)
            back, ref = seer_st.dequantize_rows(q, scale), arr.astype(np.float32)
            worst = max(worst, float(np.linalg.norm(back - ref) / max(np.linalg.norm(ref), 1e-30)))
            out[name], out[name + seer_st.QSCALE] = q, scale
            n_q += 1
        else:
            out[name] = arr
    meta = dict(meta)
    meta["seer.quantized"] = json.dumps({"scheme": "int8, symmetric, one F32 scale per row (NAME.qscale)",
                                         "min_numel": a.min_numel, "tensors": n_q,
                                         "worst_rel_l2": round(worst, 5), "from": os.path.basename(a.src)})
    seer_st.write_safetensors(a.dst, out, meta)
    print(f"{a.dst}: {n_q} of {len(tensors)} tensors int8 (worst relative L2 error {worst:.2e}), "
          f"{os.path.getsize(a.src) / 1e6:.2f} -> {os.path.getsize(a.dst) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
