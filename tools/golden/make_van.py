#!/usr/bin/env python3
"""Golden fixture for VAN, from the official VAN-Classification models/van.py (timm on the path).

A tiny four-stage VAN (dims 8/16/24/32, depths 1/2/1/2, MLP ratios 8/8/4/4, LayerNorm eps 1e-6
as every official preset) with random weights (seed 0): conv biases, BatchNorm statistics and
affines, layer scales and LayerNorm affines are all randomized so that no part is an identity;
the head is scaled up so classes separate. It runs on real ImageNet photos resized to odd
sizes, 60x76 (H x W, two images) and 68x68 (one image), to exercise the padding of the
overlapping patch embeddings (7x7/4 then 3x3/2: 60x76 -> 15x19 -> 8x10 -> 4x5 -> 2x3).
Writes tests/golden/van_tiny.{weights,io}.safetensors; the weights file names arch van_b0
with the tiny config in its metadata (seer.embed_dims, seer.depths, seer.mlp_ratios).

    /work/ref/venv/bin/python tools/golden/make_van.py [--data ../shared/data]
        [--ref /work/ref/VAN-Classification] [--timm /work/ref/pytorch-image-models]
"""
import argparse
import os
import sys
from functools import partial

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402

DIMS, DEPTHS, MLP_RATIOS = [8, 16, 24, 32], [1, 2, 1, 2], [8, 8, 4, 4]
FILES = {"a": (["n02110185_Siberian_husky.JPEG", "n03345487_fire_engine.JPEG"], (60, 76)),
         "b": (["n01498041_stingray.JPEG"], (68, 68))}


def import_van(ref, timm_src):
    sys.path.insert(0, timm_src)
    sys.path.insert(0, ref)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from models import van  # noqa: E402
    return van


def randomize(model):
    """Official init for conv/linear weights; everything else random and away from identity."""
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Conv2d):
                m.bias.normal_(0, 0.2)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_(1, 0.3)
                m.bias.normal_(0, 0.3)
            elif isinstance(m, torch.nn.LayerNorm):
                m.weight.normal_(1, 0.3)
                m.bias.normal_(0, 0.3)
        for name, p in model.named_parameters():
            if "layer_scale" in name:  # 1e-2 at init: random signs and sizes instead
                p.copy_(torch.empty_like(p).uniform_(0.3, 1.0) * torch.sign(torch.randn_like(p)))
        model.head.weight.mul_(20)
        model.head.bias.normal_(0, 0.1)


def load_images(data, files, hw):
    out = []
    for f in files:
        im = Image.open(os.path.join(data, "imagenet-samples", f)).convert("RGB")
        im = im.resize((hw[1], hw[0]), Image.BICUBIC)
        out.append((np.asarray(im, np.float32) / 255.0 - 0.5) / 0.5)
    return np.stack(out)  # NHWC


def stages(model, x):
    """The four stage outputs as forward_features computes them (before the last reshape)."""
    outs = []
    B = x.shape[0]
    for i in range(model.num_stages):
        x, H, W = getattr(model, f"patch_embed{i + 1}")(x)
        for blk in getattr(model, f"block{i + 1}"):
            x = blk(x)
        x = getattr(model, f"norm{i + 1}")(x.flatten(2).transpose(1, 2))
        x = x.reshape(B, H, W, -1)
        outs.append(x.numpy().copy())  # NHWC
        x = x.permute(0, 3, 1, 2).contiguous()
    return outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    ap.add_argument("--ref", default="/work/ref/VAN-Classification")
    ap.add_argument("--timm", default="/work/ref/pytorch-image-models")
    args = ap.parse_args()

    van = import_van(args.ref, args.timm)
    torch.manual_seed(0)
    model = van.VAN(embed_dims=DIMS, mlp_ratios=MLP_RATIOS, depths=DEPTHS,
                    norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
    randomize(model)
    model.eval()

    io = {}
    for key, (files, hw) in FILES.items():
        x = load_images(args.data, files, hw)
        with torch.no_grad():
            xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
            logits = model(xt).numpy()
            feats = stages(model, xt)
        io[f"input_{key}"] = x
        io[f"logits_{key}"] = logits
        for i, f in enumerate(feats):
            io[f"stage{i + 1}_{key}"] = f
        top = np.argsort(-logits, axis=1)[:, :5]
        print(key, x.shape, "top-5", top.tolist(), "logit std", logits.std(axis=1).round(2),
              "stage shapes", [f.shape[1:3] for f in feats])

    sd = {k: v.numpy() for k, v in model.state_dict().items()
          if not k.endswith("num_batches_tracked")}
    lst = lambda v: ",".join(str(e) for e in v)  # noqa: E731
    meta = {"seer.arch": "van_b0", "seer.embed_dims": lst(DIMS), "seer.depths": lst(DEPTHS),
            "seer.mlp_ratios": lst(MLP_RATIOS)}
    os.makedirs(args.out, exist_ok=True)
    seer_st.write_safetensors(os.path.join(args.out, "van_tiny.weights.safetensors"), sd, meta)
    seer_st.write_safetensors(os.path.join(args.out, "van_tiny.io.safetensors"), io,
                              {"files": ";".join(",".join(f) for f, _ in FILES.values()),
                               "torch": torch.__version__})


if __name__ == "__main__":
    main()
