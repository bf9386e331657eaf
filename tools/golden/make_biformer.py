#!/usr/bin/env python3
"""Golden fixtures for BiFormer, from the official rayleizhu/BiFormer code (models/biformer.py
with the bi-level routing attention of ops/bra_legacy.py, as the released checkpoints use).

Two tiny configs with random weights (fixed seeds), every parameter randomized away from its init
(conv and Linear biases, BatchNorm statistics and affines, LayerNorm affines; q/k/v weights
larger than at init so that attention and routing are peaked), head scaled up:
  a: the presets' layout: n_win 7, topks 1/4/16/-2 (routing to 1, 4 and 16 of 49 regions, full
     attention with LePE in stage 4), qk_dim = dim, on two real photos at 112x112
     (maps 28, 14, 7, 4: regions of 4x4, 2x2 and 1x1 pixels).
  b: auto_pad (the segmentation backbones' setting), qk_dim != dim (the attention scale is
     qk_dim^-0.5), topks 2/3/5/-2, MLP ratios 2/2.5/3/4, on two real photos at 80x96
     (maps 20x24, 10x12, 5x6, 3x3, padded to multiples of 7 in the routed stages).
Writes tests/golden/biformer_{a,b}.{weights,io}.safetensors; a weights file names arch
biformer_tiny with its config in the metadata (seer.depths, seer.embed_dims, seer.qk_dims,
seer.topks, seer.mlp_ratios, seer.head_dim, seer.n_win, seer.auto_pad). The io file holds the
NHWC input, the logits, the pooled features and the four stage outputs (NHWC).

Routing decides by a top-k, so a near tie of region affinities could let rounding pick another
region. The seeds (a: 2, b: 1) are chosen so that the k-th and (k+1)-th affinities of every
routing differ by at least 1.5e-4 of the largest affinity of their row; the only closer ties (b,
exact) are between regions made of padding alone, whose keys and values are identical, so
either choice gives the same output.

    /work/ref/venv/bin/python tools/golden/make_biformer.py [--data ../shared/data]
        [--ref /work/ref/BiFormer] [--timm /work/ref/pytorch-image-models]
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)

CONFIGS = {
    "a": dict(depth=[1, 2, 2, 1], embed_dim=[16, 32, 48, 64], qk_dims=[16, 32, 48, 64],
              head_dim=8, topks=[1, 4, 16, -2], mlp_ratios=[3, 3, 3, 3], n_win=7,
              auto_pad=False, seed=2,
              files=["n02110185_Siberian_husky.JPEG", "n03345487_fire_engine.JPEG"],
              hw=(112, 112)),
    "b": dict(depth=[1, 1, 2, 1], embed_dim=[16, 32, 48, 64], qk_dims=[32, 64, 96, 64],
              head_dim=16, topks=[2, 3, 5, -2], mlp_ratios=[2, 2.5, 3, 4], n_win=7,
              auto_pad=True, seed=1,
              files=["n02486410_baboon.JPEG", "n03627232_knot.JPEG"], hw=(80, 96)),
}


def fairscale_stand_in():
    """models/biformer.py imports fairscale.nn.checkpoint.checkpoint_wrapper (training only)."""
    d = tempfile.mkdtemp(prefix="fairscale_stand_in_")
    os.makedirs(os.path.join(d, "fairscale", "nn"))
    for p in ("fairscale/__init__.py", "fairscale/nn/__init__.py"):
        open(os.path.join(d, p), "w").close()
    with open(os.path.join(d, "fairscale", "nn", "checkpoint.py"), "w") as f:
        f.write("def checkpoint_wrapper(module, *args, **kwargs):\n    return module\n")
    return d


def import_biformer(ref, timm_src):
    for p in (timm_src, ref, fairscale_stand_in()):
        sys.path.insert(0, p)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from models import biformer  # noqa: E402
    return biformer


def build(biformer, cfg):
    return biformer.BiFormer(
        depth=cfg["depth"], embed_dim=cfg["embed_dim"], mlp_ratios=cfg["mlp_ratios"],
        n_win=cfg["n_win"], kv_downsample_mode="identity", kv_per_wins=[-1, -1, -1, -1],
        topks=cfg["topks"], side_dwconv=5, before_attn_dwconv=3, layer_scale_init_value=-1,
        qk_dims=cfg["qk_dims"], head_dim=cfg["head_dim"], param_routing=False,
        diff_routing=False, soft_routing=False, pre_norm=True, pe=None,
        auto_pad=cfg["auto_pad"])


def randomize(model):
    """Random everything, but with biases and BN shifts small enough that the image-dependent
    part of every activation stays large (random-init networks drift to constant outputs)."""
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                if m.bias is not None:
                    m.bias.normal_(0, 0.05)
                if isinstance(m, torch.nn.Linear) and name.endswith("qkv"):
                    m.weight.normal_(0, 1.0 / m.in_features ** 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.05)
                m.running_var.uniform_(0.05, 0.2)
                m.weight.normal_(1, 0.3)
                m.bias.normal_(0, 0.05)
            elif isinstance(m, torch.nn.LayerNorm):
                m.weight.normal_(1, 0.3)
                m.bias.normal_(0, 0.05)
        model.head.weight.mul_(5)
        model.head.bias.normal_(0, 0.1)


def load_images(data, files, hw):
    """Short side to max(hw) (bicubic), center crop to hw; ImageNet mean/std; NHWC."""
    out = []
    for f in files:
        im = Image.open(os.path.join(data, "imagenet-samples", f)).convert("RGB")
        s = max(hw)
        w, h = im.size
        nw, nh = (s, round(h * s / w)) if w < h else (round(w * s / h), s)
        im = im.resize((nw, nh), Image.BICUBIC)
        left, top = (nw - hw[1]) // 2, (nh - hw[0]) // 2
        im = im.crop((left, top, left + hw[1], top + hw[0]))
        out.append((np.asarray(im, np.float32) / 255.0 - MEAN) / STD)
    return np.stack(out)


def run(model, x):
    """Logits, pooled features and the four stage outputs (NHWC) of the reference."""
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    stages = []
    hooks = [s.register_forward_hook(lambda m, i, o: stages.append(o.permute(0, 2, 3, 1).numpy()))
             for s in model.stages]
    with torch.no_grad():
        feats = model.forward_features(xt).flatten(2).mean(-1)
        logits = model.head(feats)
    for h in hooks:
        h.remove()
    return logits.numpy(), feats.numpy(), stages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--ref", default="/work/ref/BiFormer")
    ap.add_argument("--timm", default="/work/ref/pytorch-image-models")
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    args = ap.parse_args()
    biformer = import_biformer(args.ref, args.timm)
    os.makedirs(args.out, exist_ok=True)
    for key, cfg in CONFIGS.items():
        torch.manual_seed(cfg["seed"])
        model = build(biformer, cfg)
        randomize(model)
        model.eval()
        x = load_images(args.data, cfg["files"], cfg["hw"])
        logits, feats, stages = run(model, x)
        sd = {k: v.numpy() for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")}
        ints = lambda v: ",".join(str(i) for i in v)  # noqa: E731
        meta = {"seer.arch": "biformer_tiny", "seer.depths": ints(cfg["depth"]),
                "seer.embed_dims": ints(cfg["embed_dim"]), "seer.qk_dims": ints(cfg["qk_dims"]),
                "seer.topks": ints(cfg["topks"]), "seer.mlp_ratios": ints(cfg["mlp_ratios"]),
                "seer.head_dim": str(cfg["head_dim"]), "seer.n_win": str(cfg["n_win"]),
                "seer.auto_pad": str(int(cfg["auto_pad"]))}
        seer_st.write_safetensors(os.path.join(args.out, f"biformer_{key}.weights.safetensors"),
                                  sd, meta)
        io = {"input": x, "logits": logits, "features": feats}
        for i, s in enumerate(stages):
            io[f"stage{i + 1}"] = s
        seer_st.write_safetensors(os.path.join(args.out, f"biformer_{key}.io.safetensors"), io,
                                  {"files": ",".join(cfg["files"]), "torch": torch.__version__})
        print(key, "input", x.shape, "stages", [s.shape for s in stages],
              "logits[0][:5]", logits[0, :5].round(3), "argmax", logits.argmax(1))


if __name__ == "__main__":
    main()
