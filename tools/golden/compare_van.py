#!/usr/bin/env python3
"""Real-preset check of VAN outside CI: the official VAN-Classification model vs seer.

1. Build PRESET (van_b0 .. van_b6) with the official models/van.py and its own random init
   (torch.manual_seed(SEED); BN statistics 0/1, layer scales 1e-2 as the official code sets
   them) and write OUT/PRESET.safetensors (official state_dict keys, seer.arch metadata as
   tools/convert.py writes it).
2. Run the reference on every image under IMAGES (recursively, sorted) with VAN's evaluation
   transform (the model's default_cfg, timm's eval transform on PIL images: bicubic resize of the
   short side to floor(224 / 0.9) = 248, center crop 224, mean = std = 0.5) and write
   OUT/PRESET.ref_top5.jsonl and OUT/PRESET.ref_logits.npy.
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the
   max abs / relative L2 error of the logits and of their image-dependent part (logits minus
   the mean over the images; random-init models give nearly the same logits for every image).

    PY=/work/ref/venv/bin/python
    $PY tools/golden/compare_van.py --out /tmp/van_cmp --images ../shared/data/imagenet-val-1300/val
    ./build/seer classify --weights /tmp/van_cmp/van_b0.safetensors --format jsonl --topk 5 \\
        --output /tmp/van_cmp/seer.jsonl --logits /tmp/van_cmp/seer_logits.safetensors \\
        ../shared/data/imagenet-val-1300/val
    $PY tools/golden/compare_van.py --out /tmp/van_cmp --images ../shared/data/imagenet-val-1300/val \\
        --seer-jsonl /tmp/van_cmp/seer.jsonl --seer-logits /tmp/van_cmp/seer_logits.safetensors

Step 1-2 are skipped when their outputs exist (--force redoes them). --limit N uses the first
N images (sorted paths); the seer run must then be given the same files (--list-out writes them).
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


def import_van(ref, timm_src):
    sys.path.insert(0, timm_src)
    sys.path.insert(0, ref)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from models import van  # noqa: E402
    return van


def build(args, van):
    import torch
    torch.manual_seed(args.seed)
    model = getattr(van, args.preset)()
    model.eval()
    path = os.path.join(args.out, f"{args.preset}.safetensors")
    if args.force or not os.path.exists(path):
        sd = {k: v.detach().numpy() for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")}
        seer_st.write_safetensors(path, sd, {"seer.arch": args.preset,
                                             "seer.source": f"official init, seed {args.seed}"})
        print(f"wrote {path}: {len(sd)} tensors")
    return model


def eval_transform(model):
    """timm's eval transform from the model's default_cfg (what validate.py resolves)."""
    from timm.data import create_transform
    cfg = model.default_cfg
    t = create_transform(input_size=cfg["input_size"], is_training=False,
                         interpolation=cfg["interpolation"], mean=cfg["mean"], std=cfg["std"],
                         crop_pct=cfg["crop_pct"])
    return cfg, t


def run_reference(args, model, files):
    import torch
    from PIL import Image
    top_path = os.path.join(args.out, f"{args.preset}.ref_top5.jsonl")
    npy_path = os.path.join(args.out, f"{args.preset}.ref_logits.npy")
    if not args.force and os.path.exists(npy_path) and os.path.exists(top_path):
        logits = np.load(npy_path)
        if logits.shape[0] == len(files):
            return logits
    cfg, tf = eval_transform(model)
    print("reference transform:", {k: cfg[k] for k in ("input_size", "interpolation", "crop_pct",
                                                        "mean", "std")})
    print(tf)
    torch.set_num_threads(os.cpu_count() or 1)
    out = []
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, len(files), args.batch):
            xs = []
            for f in files[i:i + args.batch]:
                with open(f, "rb") as fh:
                    im = Image.open(fh).convert("RGB")
                xs.append(tf(im))
            out.append(model(torch.stack(xs)).numpy())
            print(f"\rreference: {i + len(xs)}/{len(files)} ({time.time() - t0:.0f} s)",
                  end="", flush=True)
    print()
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
    ap.add_argument("--preset", default="van_b0")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N images (sorted) only")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--list-out", help="write the image list (one path a line) here")
    ap.add_argument("--seer-jsonl", help="seer classify --format jsonl --topk 5 output")
    ap.add_argument("--seer-logits", help="seer classify --logits output (.safetensors)")
    ap.add_argument("--force", action="store_true", help="redo the weights and reference run")
    ap.add_argument("--ref", default="/work/ref/VAN-Classification")
    ap.add_argument("--timm", default="/work/ref/pytorch-image-models")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    files = list_images(args.images, args.limit)
    if not files:
        raise SystemExit(f"compare_van: no images under {args.images}")
    if args.list_out:
        with open(args.list_out, "w") as fh:
            fh.write("".join(f + "\n" for f in files))
    van = import_van(args.ref, args.timm)
    model = build(args, van)
    ref_logits = run_reference(args, model, files)
    print(f"{args.preset}: {len(files)} images")
    if args.seer_jsonl:
        compare_top5(args, files, ref_logits)
    if args.seer_logits:
        compare_logits(args, files, ref_logits)


if __name__ == "__main__":
    main()
