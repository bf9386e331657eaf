#!/usr/bin/env python3
"""Real-preset check of BiFormer outside CI: the official rayleizhu/BiFormer model vs seer.

1. Build PRESET (biformer_tiny / _small / _base, models/biformer.py with ops/bra_legacy.py) with
   the official code's own random init after torch.manual_seed(SEED) (Linear: truncated normal
   0.02, bias 0; convs: PyTorch's default; BN statistics 0/1; LayerNorm 1/0) and write
   OUT/PRESET.safetensors (official state_dict keys, num_batches_tracked dropped, seer.arch
   metadata as tools/convert.py writes it). --init golden instead randomizes every parameter
   as tools/golden/make_biformer.py does (larger image-dependent logits).
2. Run the reference on every image under IMAGES (recursively, sorted) with BiFormer's own
   evaluation transform (datasets.build_transform(is_train=False) of the repository: PIL
   bicubic resize of the short side to int(256 / 224 * 224) = 256, center crop 224, ImageNet
   mean/std) and write OUT/PRESET.ref_top5.jsonl and OUT/PRESET.ref_logits.npy.
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the
   max abs / relative L2 error of the logits and of their image-dependent part (logits minus
   the mean over the images; random-init models give nearly the same logits for every image).

    PY=/work/ref/venv/bin/python
    $PY tools/golden/compare_biformer.py --out /tmp/bf_cmp --images ../shared/data/imagenet-val-1300/val
    ./build/seer classify --weights /tmp/bf_cmp/biformer_tiny.safetensors --format jsonl --topk 5 \\
        --output /tmp/bf_cmp/seer.jsonl --logits /tmp/bf_cmp/seer_logits.safetensors \\
        ../shared/data/imagenet-val-1300/val
    $PY tools/golden/compare_biformer.py --out /tmp/bf_cmp --images ../shared/data/imagenet-val-1300/val \\
        --seer-jsonl /tmp/bf_cmp/seer.jsonl --seer-logits /tmp/bf_cmp/seer_logits.safetensors

On the GPU machine: the same with `--device cuda` for the reference, and seer with
`--device cuda --precision f32` (then `bf16`, each into its own --output/--logits files).

Steps 1-2 are skipped when their outputs exist (--force redoes them). --limit N uses the first
N images (sorted paths); the seer run must then be given the same files (--list-out writes
them). --device cuda runs the reference on a GPU (TF32 off, so it stays an F32 reference).
Routing ties: seer's top-k keeps the lower region index first; torch.topk may order exact ties
otherwise (real-valued routing scores do not tie in practice).
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
import types

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from seer_compare import compare_logits, compare_top5, key_of, list_images  # noqa: E402


def import_reference(ref, timm_src):
    """models.biformer and the repository's datasets.py (fairscale stand-in on the path)."""
    d = tempfile.mkdtemp(prefix="fairscale_stand_in_")
    os.makedirs(os.path.join(d, "fairscale", "nn"))
    for p in ("fairscale/__init__.py", "fairscale/nn/__init__.py"):
        open(os.path.join(d, p), "w").close()
    with open(os.path.join(d, "fairscale", "nn", "checkpoint.py"), "w") as f:
        f.write("def checkpoint_wrapper(module, *args, **kwargs):\n    return module\n")
    for p in (timm_src, ref, d):
        sys.path.insert(0, p)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from models import biformer  # noqa: E402
        spec = importlib.util.spec_from_file_location("biformer_datasets",
                                                      os.path.join(ref, "datasets.py"))
        datasets = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(datasets)
    return biformer, datasets


def build(args, biformer):
    import torch
    torch.manual_seed(args.seed)
    model = getattr(biformer, args.preset)()
    if args.init == "golden":
        spec = importlib.util.spec_from_file_location("make_biformer",
                                                      os.path.join(here, "make_biformer.py"))
        mk = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mk)
        mk.randomize(model)
    model.eval()
    path = os.path.join(args.out, f"{args.preset}.safetensors")
    if args.force or not os.path.exists(path):
        sd = {k: v.detach().numpy() for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")}
        seer_st.write_safetensors(path, sd, {"seer.arch": args.preset,
                                             "seer.source": f"{args.init} init, seed {args.seed}"})
        print(f"wrote {path}: {len(sd)} tensors")
    return model


def run_reference(args, model, datasets, files):
    import torch
    from PIL import Image
    top_path = os.path.join(args.out, f"{args.preset}.ref_top5.jsonl")
    npy_path = os.path.join(args.out, f"{args.preset}.ref_logits.npy")
    if not args.force and os.path.exists(npy_path) and os.path.exists(top_path):
        logits = np.load(npy_path)
        if logits.shape[0] == len(files):
            return logits
    # The repository's eval transform, as main.py builds it (input_size 224).
    tf = datasets.build_transform(False, types.SimpleNamespace(input_size=224))
    print("reference transform:", tf)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    else:
        torch.set_num_threads(os.cpu_count() or 1)
    model = model.to(dev)
    out = []
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, len(files), args.batch):
            xs = []
            for f in files[i:i + args.batch]:
                with open(f, "rb") as fh:
                    im = Image.open(fh).convert("RGB")
                xs.append(tf(im))
            out.append(model(torch.stack(xs).to(dev)).cpu().numpy())
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
    ap.add_argument("--preset", default="biformer_tiny",
                    choices=["biformer_tiny", "biformer_small", "biformer_base"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", default="official", choices=["official", "golden"])
    ap.add_argument("--limit", type=int, default=0, help="first N images (sorted) only")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu", help="reference device: cpu or cuda")
    ap.add_argument("--list-out", help="write the image list (one path a line) here")
    ap.add_argument("--seer-jsonl", help="seer classify --format jsonl --topk 5 output")
    ap.add_argument("--seer-logits", help="seer classify --logits output (.safetensors)")
    ap.add_argument("--force", action="store_true", help="redo the weights and reference run")
    ap.add_argument("--ref", default="/work/ref/BiFormer")
    ap.add_argument("--timm", default="/work/ref/pytorch-image-models")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    files = list_images(args.images, args.limit)
    if not files:
        raise SystemExit(f"compare_biformer: no images under {args.images}")
    if args.list_out:
        with open(args.list_out, "w") as fh:
            fh.write("".join(f + "\n" for f in files))
    biformer, datasets = import_reference(args.ref, args.timm)
    model = build(args, biformer)
    ref_logits = run_reference(args, model, datasets, files)
    print(f"{args.preset}: {len(files)} images")
    if args.seer_jsonl:
        compare_top5(args, files, ref_logits)
    if args.seer_logits:
        compare_logits(args, files, ref_logits)


if __name__ == "__main__":
    main()
