#!/usr/bin/env python3
"""How far PyTorch's own BF16 is from the F32 golden logits, per fixture: the yardstick for
seer's BF16 tolerance (DESIGN.md: rel-L2 <= 2e-2 and identical top-1 on fixtures).

Rebuilds each fixture's network with our torch_ref definitions (shown equal to the references
by tools/torch_ref/check_*.py), loads the fixture weights, checks F32 reproduces the golden
logits, then runs the same inputs under BF16 autocast (matmuls and convolutions in BF16 with
F32 accumulation, as PyTorch AMP does) and in pure BF16 (weights and activations), and prints
rel-L2 against the golden logits, rel-L2 of the batch-centred logits (test_volo.c's second
check) and how many top-1 agree. Runs on the CPU (torch >= 1.10 has CPU BF16 autocast).

    /usr/bin/python3 tools/golden/bf16_baseline.py [halonet_a volo_b ...]
"""
import contextlib
import copy
import json
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from torch_ref.halonet import HaloNet  # noqa: E402
from torch_ref.volo import VOLO  # noqa: E402

GOLDEN = os.path.join(here, "..", "..", "tests", "golden")
FIXTURES = ["halonet_a", "halonet_b", "halonet_c", "volo_a", "volo_b", "volo_c"]


def build(name, meta):
    if name.startswith("halonet"):
        return HaloNet(meta["seer.halonet_cfg"])
    cfg = json.loads(meta["seer.config"])
    if "mlp_ratios" in cfg:
        cfg["mlp_ratio"] = cfg.pop("mlp_ratios")
    return VOLO(**cfg)


@contextlib.contextmanager
def fp32_layer_norm():
    """LayerNorm in F32 on a BF16 input, as CUDA autocast runs it (its fp32 op list); torch
    1.13's CPU autocast leaves layer_norm out and then fails on the mixed dtypes."""
    forward = torch.nn.LayerNorm.forward
    torch.nn.LayerNorm.forward = lambda self, x: forward(self, x.float())
    try:
        yield
    finally:
        torch.nn.LayerNorm.forward = forward


def rel(a, b):
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def main():
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    for name in sys.argv[1:] or FIXTURES:
        weights, meta = seer_st.read_safetensors(os.path.join(GOLDEN, f"{name}.weights.safetensors"))
        io, _ = seer_st.read_safetensors(os.path.join(GOLDEN, f"{name}.io.safetensors"))
        model = build(name, meta).eval()
        missing, unexpected = model.load_state_dict(
            {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in weights.items()}, strict=False)
        if [k for k in missing if "num_batches" not in k] or unexpected:
            raise SystemExit(f"{name}: weights do not fit: missing {missing[:4]}, unexpected {unexpected[:4]}")
        for key in sorted(k for k in io if k.startswith("input")):
            want = torch.from_numpy(np.asarray(io[key.replace("input", "logits")], dtype=np.float32))
            x = torch.from_numpy(np.asarray(io[key], dtype=np.float32))
            if x.shape[-1] == 3:  # NHWC in the fixture
                x = x.permute(0, 3, 1, 2).contiguous()
            with torch.no_grad():
                f32 = model(x)
                with torch.autocast("cpu", dtype=torch.bfloat16), fp32_layer_norm():
                    amp = model(x).float()
                try:  # a BF16 copy: rounding the model's own weights would spoil later inputs
                    pure = copy.deepcopy(model).to(torch.bfloat16)(x.to(torch.bfloat16)).float()
                except RuntimeError:  # an op without a CPU BF16 kernel in this torch
                    pure = None
            line = f"{name:10s} {key:8s} f32 {rel(f32, want):.1e}"
            for tag, y in (("amp-bf16", amp), ("pure-bf16", pure)):
                if y is None:
                    line += f" | {tag} n/a"
                    continue
                top1 = int((y.argmax(1) == want.argmax(1)).sum())
                line += (f" | {tag} rel-L2 {rel(y, want):.2e} centred {rel(y - y.mean(0), want - want.mean(0)):.2e}"
                         f" top-1 {top1}/{len(want)}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
