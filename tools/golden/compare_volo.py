#!/work/ref/venv/bin/python
"""Real-preset check of VOLO outside CI: timm's VOLO vs seer.

1. Build PRESET (volo_d1_224 .. volo_d5_512) with timm (pretrained=False: timm's own random
   init after torch.manual_seed(SEED)) and write OUT/PRESET.safetensors (timm's state_dict keys,
   seer.arch metadata as tools/convert.py writes it).
2. Run timm on every image under IMAGES (recursively, sorted) in eval mode with the preset's
   eval transform (its pretrained_cfg through timm's resolve_data_config + create_transform:
   PIL bicubic resize of the short side to floor(size / crop_pct), center crop (zero padded
   when crop_pct > 1), ImageNet mean/std) and write OUT/PRESET.ref_top5.jsonl and
   OUT/PRESET.ref_logits.npy.
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the
   max abs / relative L2 error of the logits and of their image-dependent part (logits minus
   their mean over the images: random-init models give nearly the same logits for every image).

    PY=/work/ref/venv/bin/python
    $PY tools/golden/compare_volo.py --out /tmp/volo_cmp --images ../shared/data/imagenet-val-1300/val
    ./build/seer classify --weights /tmp/volo_cmp/volo_d1_224.safetensors --format jsonl --topk 5 \\
        --output /tmp/volo_cmp/seer.jsonl --logits /tmp/volo_cmp/seer_logits.safetensors \\
        ../shared/data/imagenet-val-1300/val
    $PY tools/golden/compare_volo.py --out /tmp/volo_cmp --images ../shared/data/imagenet-val-1300/val \\
        --seer-jsonl /tmp/volo_cmp/seer.jsonl --seer-logits /tmp/volo_cmp/seer_logits.safetensors

Steps 1-2 are skipped when their outputs exist (--force redoes them). --limit N uses the first
N images (sorted paths); the seer run must then be given the same files (--list-out writes
them, one path a line, e.g. for `xargs seer classify ...`).
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


def build(args):
    import timm
    import torch
    torch.manual_seed(args.seed)
    model = timm.create_model(args.preset, pretrained=False)
    model.eval()
    path = os.path.join(args.out, f"{args.preset}.safetensors")
    if args.force or not os.path.exists(path):
        sd = {k: v.detach().numpy() for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")}
        seer_st.write_safetensors(path, sd, {"seer.arch": args.preset,
                                             "seer.source": f"timm {timm.__version__} init, seed {args.seed}"})
        print(f"wrote {path}: {len(sd)} tensors")
    return model


def eval_transform(model):
    """timm's eval transform from the preset's pretrained_cfg (what timm's validate.py does)."""
    from timm.data import create_transform, resolve_data_config
    cfg = resolve_data_config({}, model=model)
    return cfg, create_transform(**cfg, is_training=False)


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
    print("reference transform:", cfg)
    print(tf)
    torch.set_num_threads(os.cpu_count() or 1)
    out = []
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, len(files), args.batch):
            xs = []
            for f in files[i:i + args.batch]:
                with open(f, "rb") as fh:
                    xs.append(tf(Image.open(fh).convert("RGB")))
            out.append(model(torch.stack(xs)).numpy())
            print(f"\rreference: {i + len(xs)}/{len(files)} ({time.time() - t0:.0f} s)", end="", flush=True)
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for the weights and reference outputs")
    ap.add_argument("--images", required=True, help="folder of images (searched recursively)")
    ap.add_argument("--preset", default="volo_d1_224")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N images (sorted) only")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--list-out", help="write the image list (one path a line) here")
    ap.add_argument("--seer-jsonl", help="seer classify --format jsonl --topk 5 output")
    ap.add_argument("--seer-logits", help="seer classify --logits output (.safetensors)")
    ap.add_argument("--force", action="store_true", help="redo the weights and reference run")
    ap.add_argument("--timm", default="/work/ref/pytorch-image-models")
    args = ap.parse_args()

    sys.path.insert(0, args.timm)
    os.makedirs(args.out, exist_ok=True)
    files = list_images(args.images, args.limit)
    if not files:
        raise SystemExit(f"compare_volo: no images under {args.images}")
    if args.list_out:
        with open(args.list_out, "w") as fh:
            fh.write("".join(f + "\n" for f in files))
    model = build(args)
    ref_logits = run_reference(args, model, files)
    print(f"{args.preset}: {len(files)} images")
    if args.seer_jsonl:
        compare_top5(args, files, ref_logits)
    if args.seer_logits:
        compare_logits(args, files, ref_logits)


if __name__ == "__main__":
    main()
