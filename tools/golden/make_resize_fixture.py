#!/usr/bin/env python3
"""Golden fixture for seer_resize: torch.nn.functional.interpolate outputs on small inputs.

Run from the repository root with any Python that has torch (made with torch 1.13):
    /usr/bin/python3 tools/golden/make_resize_fixture.py
Writes tests/golden/resize.bin, read by tests/test_ops_spatial.c. Layout, little-endian:
    magic    8 bytes  b"SEERRSZ1"
    count    u32      number of cases
    per case:
      mode, align_corners, B, H, W, C, out_h, out_w   8 x i32 (mode: 0 nearest, 1 bilinear,
                                                       2 bicubic, as seer_resize_mode)
      input    B*H*W*C f32, NHWC
      output   B*out_h*out_w*C f32, NHWC
"""
import os
import struct

import torch
import torch.nn.functional as F

MODES = [("nearest", 0, [None]), ("bilinear", 1, [False, True]), ("bicubic", 2, [False, True])]
# (B, H, W, C) inputs and output sizes: up, down, mixed (one axis to 1, the other up).
INPUTS = [(2, 5, 7, 3), (1, 8, 6, 2)]
SIZES = [(11, 13), (3, 4), (1, 9)]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "tests", "golden", "resize.bin")
    gen = torch.Generator().manual_seed(20240611)
    cases = []
    for b, h, w, c in INPUTS:
        x = torch.randn(b, h, w, c, generator=gen, dtype=torch.float32)
        nchw = x.permute(0, 3, 1, 2).contiguous()
        for oh, ow in SIZES:
            for name, code, aligns in MODES:
                for ac in aligns:
                    y = F.interpolate(nchw, size=(oh, ow), mode=name, align_corners=ac)
                    y = y.permute(0, 2, 3, 1).contiguous()
                    cases.append((code, int(bool(ac)), (b, h, w, c), (oh, ow), x, y))
    with open(path, "wb") as f:
        f.write(b"SEERRSZ1")
        f.write(struct.pack("<I", len(cases)))
        for code, ac, (b, h, w, c), (oh, ow), x, y in cases:
            f.write(struct.pack("<8i", code, ac, b, h, w, c, oh, ow))
            f.write(x.numpy().astype("<f4").tobytes())
            f.write(y.numpy().astype("<f4").tobytes())
    print(f"wrote {path}: {len(cases)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
