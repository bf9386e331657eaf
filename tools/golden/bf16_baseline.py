#!/usr/bin/env python3
"""How far PyTorch's own BF16 is from the F32 golden logits, per fixture: the yardstick for
seer's BF16 tolerance (DESIGN.md: rel-L2 <= 2e-2 and identical top-1 on fixtures).

Rebuilds each fixture's network with our torch_ref definitions (shown equal to the references
by tools/torch_ref/check_*.py), loads the fixture weights, checks F32 reproduces the golden
logits, then runs the same inputs under BF16 autocast (matmuls and convolutions in BF16 with
F32 accumulation, as PyTorch AMP does) and in pure BF16 (weights and activations), and prints
rel-L2 against the golden logits, rel-L2 of the batch-centred logits (test_volo.c's second
check), how many top-1 agree, the smallest top-1 margin (golden top-1 logit minus the
runner-up) in units of the largest BF16 logit error of that row (AMP), and rel-L2 of the AMP
pre-logits features against the fixture's (test_halonet.c and test_volo.c check them too).
Runs on the CPU (torch >= 1.10 has CPU BF16 autocast).

    /usr/bin/python3 tools/golden/bf16_baseline.py [--golden DIR] [halonet_a volo_b ...]
"""
import argparse
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
from torch_ref.biformer import BiFormer, from_metadata as biformer_from_metadata  # noqa: E402
from torch_ref.halonet import HaloNet  # noqa: E402
from torch_ref.inception_fid import InceptionFID  # noqa: E402
from torch_ref.volo import VOLO  # noqa: E402

GOLDEN = os.path.join(here, "..", "..", "tests", "golden")
FIXTURES = ["halonet_a", "halonet_b", "halonet_c", "volo_a", "volo_b", "volo_c", "inception_fid_w16",
            "biformer_a", "biformer_b"]


def build(name, meta):
    if name.startswith("halonet"):
        return HaloNet(meta["seer.halonet_cfg"])
    if name.startswith("inception_fid"):
        return InceptionFID(width_div=int(meta["seer.width_div"]))
    if name.startswith("biformer"):
        return biformer_from_metadata(meta)
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


def features(model, x):
    """Pre-logits features, as the fixtures store them."""
    if isinstance(model, HaloNet):
        return model.forward_features(x).mean((2, 3))
    if isinstance(model, (InceptionFID, BiFormer)):
        return model.features(x)
    return model.pool(model.forward_features(x))


def rel(a, b):
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def margin(y, want):
    """Smallest (top-1 - runner-up of the golden logits) / (largest |y - want| of the row)."""
    top2 = want.topk(2, 1).values
    return float(((top2[:, 0] - top2[:, 1]) / (y - want).abs().amax(1)).min())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default=GOLDEN, help="folder of the fixtures")
    ap.add_argument("names", nargs="*", default=FIXTURES)
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    for name in args.names:
        weights, meta = seer_st.read_safetensors(os.path.join(args.golden, f"{name}.weights.safetensors"))
        io, _ = seer_st.read_safetensors(os.path.join(args.golden, f"{name}.io.safetensors"))
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
                    amp_f = features(model, x).float()
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
                centred = f"{rel(y - y.mean(0), want - want.mean(0)):.2e}" if len(want) > 1 else "n/a"
                line += f" | {tag} rel-L2 {rel(y, want):.2e} centred {centred} top-1 {top1}/{len(want)}"
                if tag == "amp-bf16":
                    want_f = torch.from_numpy(np.asarray(io[key.replace("input", "features")], dtype=np.float32))
                    line += f" margin {margin(y, want):.1f} features {rel(amp_f, want_f):.2e}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
