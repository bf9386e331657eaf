#!/usr/bin/env python3
"""Real-preset check of the HaloNet family outside CI: timm's model vs seer.

1. Build PRESET (halonet26t, sehalonet33ts, halonet50ts, eca_halonext26ts, halo2botnet50ts_256,
   haloregnetz_b, halonet_h1) with timm's create_model and its own random init
   (torch.manual_seed(SEED)) and write OUT/PRESET[.bn].safetensors (timm state_dict keys,
   seer.arch metadata as tools/convert.py writes it).
   timm's init zeroes the last BN weight of every residual branch (zero_init_last), so with
   its init alone every block with a shortcut is the identity (plus the activation) and the
   halo attention never reaches the logits. --random-bn also draws every BatchNorm's weight
   and bias (seeded) and sets its running statistics from one train-mode pass over the first
   --calib images, so every branch counts and the logits keep an image-dependent part.
2. Run the reference on every image under IMAGES (recursively, sorted) with the model's eval
   transform (timm's create_transform from the pretrained cfg on PIL images: bicubic, short side
   to floor(size / crop_pct), center crop) and write OUT/TAG.ref_top5.jsonl and
   OUT/TAG.ref_logits.npy (TAG = PRESET, or PRESET.bn with --random-bn).
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the
   max abs / relative L2 error of the logits and of their image-dependent part (logits minus
   the mean over the images: random-init models give nearly the same logits for every image).
   With --f64 the reference also runs in float64, and both float32 results (seer's and timm's)
   are measured against it: a random network can amplify rounding on some images, and then
   seer vs timm float32 differs by about as much as either differs from float64.

    PY=/work/ref/venv/bin/python
    IMG=../shared/data/imagenet-val-1300/val
    $PY tools/golden/compare_halonet.py --out /tmp/halo_cmp --images $IMG --preset halonet26t
    ./build/seer classify --weights /tmp/halo_cmp/halonet26t.safetensors --format jsonl --topk 5 \\
        --output /tmp/halo_cmp/seer.jsonl --logits /tmp/halo_cmp/seer_logits.safetensors $IMG
    $PY tools/golden/compare_halonet.py --out /tmp/halo_cmp --images $IMG --preset halonet26t \\
        --seer-jsonl /tmp/halo_cmp/seer.jsonl --seer-logits /tmp/halo_cmp/seer_logits.safetensors

Steps 1-2 are skipped when their outputs exist (--force redoes them). --limit N uses the first
N images (sorted paths); seer must then be given the same files (--list-out writes them, one
per line: `xargs ./build/seer classify ... < LIST`).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from seer_compare import compare_logits, compare_top5, key_of, list_images  # noqa: E402

PRESETS = ("halonet26t", "sehalonet33ts", "halonet50ts", "eca_halonext26ts",
           "halo2botnet50ts_256", "haloregnetz_b", "halonet_h1")


def randomize_bn(model, seed, calib):
    """Every BatchNorm (incl. BatchNormAct2d) gets a random affine transform, and running
    statistics measured on the calibration batch (one train-mode pass, cumulative average;
    variances at least 0.01), so each layer's output keeps an image-dependent signal instead of
    drifting into a constant."""
    import torch
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            n = m.num_features
            m.weight.copy_(0.5 + 0.5 * torch.rand(n, generator=g))
            m.bias.copy_(0.2 * torch.randn(n, generator=g))
            m.reset_running_stats()
            m.momentum = None
        model.train()
        model(calib)
        for m in bns:
            m.momentum = 0.1
            # near-constant channels (dead ReLUs, pooled maps) would divide by ~sqrt(eps) and
            # make the float32 result depend on rounding: keep every std >= 0.1
            m.running_var.clamp_(min=1e-2)
    model.eval()


def build(args, tag, files):
    """The model with the weights of OUT/TAG.safetensors (made here first if absent)."""
    import timm
    import torch
    torch.manual_seed(args.seed)
    model = timm.create_model(args.preset)
    model.eval()
    path = os.path.join(args.out, f"{tag}.safetensors")
    if not args.force and os.path.exists(path):
        sd, _ = seer_st.read_safetensors(path)
        missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()},
                                                    strict=False)
        if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
            raise SystemExit(f"compare_halonet: {path} does not fit {args.preset}")
        return model
    if args.random_bn:
        from PIL import Image
        _, tf = eval_transform(model)
        calib = [tf(Image.open(f).convert("RGB")) for f in files[:args.calib]]
        randomize_bn(model, args.seed, torch.stack(calib))
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()
          if not k.endswith("num_batches_tracked")}
    src = f"timm init, seed {args.seed}" + (", random BN" if args.random_bn else "")
    seer_st.write_safetensors(path, sd, {"seer.arch": args.preset, "seer.source": src})
    print(f"wrote {path}: {len(sd)} tensors")
    return model


def eval_transform(model):
    """timm's eval transform from the model's pretrained cfg (what validate.py resolves)."""
    from timm.data import create_transform, resolve_data_config
    cfg = resolve_data_config({}, model=model)
    return cfg, create_transform(**cfg, is_training=False)


def run_reference(args, model, files, tag, f64=False):
    import torch
    from PIL import Image
    top_path = os.path.join(args.out, f"{tag}.ref_top5.jsonl")
    npy_path = os.path.join(args.out, f"{tag}.ref_logits{'64' if f64 else ''}.npy")
    if not args.force and os.path.exists(npy_path) and (f64 or os.path.exists(top_path)):
        logits = np.load(npy_path)
        if logits.shape[0] == len(files):
            return logits
    if f64:
        model = model.double()
    cfg, tf = eval_transform(model)
    print("reference transform:", cfg)
    torch.set_num_threads(os.cpu_count() or 1)
    out = []
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, len(files), args.batch):
            xs = []
            for f in files[i:i + args.batch]:
                with open(f, "rb") as fh:
                    xs.append(tf(Image.open(fh).convert("RGB")))
            x = torch.stack(xs)
            out.append(model(x.double() if f64 else x).numpy())
            print(f"\rreference{' (float64)' if f64 else ''}: {i + len(xs)}/{len(files)} "
                  f"({time.time() - t0:.0f} s)", end="", flush=True)
    print()
    if f64:
        model.float()
        logits = np.concatenate(out)
        np.save(npy_path, logits)
        return logits
    logits = np.concatenate(out).astype(np.float32)
    np.save(npy_path, logits)
    with open(top_path, "w") as fh:
        for f, l in zip(files, logits):
            top = np.argsort(-l, kind="stable")[:5]
            fh.write(json.dumps({"file": f, "top": [int(c) for c in top]}) + "\n")
    print(f"wrote {top_path}")
    return logits


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for the weights and reference outputs")
    ap.add_argument("--images", required=True, help="folder of images (searched recursively)")
    ap.add_argument("--preset", default="halonet26t", choices=PRESETS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--random-bn", action="store_true",
                    help="also randomize BatchNorm params/statistics (see step 1)")
    ap.add_argument("--calib", type=int, default=16,
                    help="--random-bn: images (the first N) that set the BN statistics")
    ap.add_argument("--limit", type=int, default=0, help="first N images (sorted) only")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--list-out", help="write the image list (one path a line) here")
    ap.add_argument("--seer-jsonl", help="seer classify --format jsonl --topk 5 output")
    ap.add_argument("--seer-logits", help="seer classify --logits output (.safetensors)")
    ap.add_argument("--f64", action="store_true",
                    help="also run the reference in float64 (OUT/TAG.ref_logits64.npy) and measure "
                         "seer's and timm's float32 logits against it")
    ap.add_argument("--force", action="store_true", help="redo the weights and reference run")
    ap.add_argument("--timm", default="/work/ref/pytorch-image-models")
    args = ap.parse_args()

    sys.path.insert(0, args.timm)
    os.makedirs(args.out, exist_ok=True)
    files = list_images(args.images, args.limit)
    if not files:
        raise SystemExit(f"compare_halonet: no images under {args.images}")
    if args.list_out:
        with open(args.list_out, "w") as fh:
            fh.write("".join(f + "\n" for f in files))
    tag = args.preset + (".bn" if args.random_bn else "")
    model = build(args, tag, files)
    ref_logits = run_reference(args, model, files, tag)
    ref64 = run_reference(args, model, files, tag, f64=True) if args.f64 else None
    print(f"{tag}: {len(files)} images")
    if args.seer_jsonl:
        compare_top5(args, files, ref_logits)
    if args.seer_logits:
        compare_logits(args, files, ref_logits, ref64)


if __name__ == "__main__":
    main()
