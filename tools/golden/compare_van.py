#!/usr/bin/env python3
"""Real-preset check of VAN outside CI: the official VAN-Classification model vs seer.

1. Build PRESET (van_b0 .. van_b6) with the official models/van.py and its own random init
   (torch.manual_seed(SEED); BN statistics 0/1, layer scales 1e-2 as the official code sets
   them) and write OUT/PRESET.safetensors (official state_dict keys, seer.arch metadata as
   tools/convert.py writes it).
2. Run the reference on every image under IMAGES (recursively, sorted) with VAN's evaluation
   transform (the model's default_cfg, timm's eval transform on PIL images: bicubic resize of the
   short side to floor(224 / 0.9) = 248, center crop 224, mean = std = 0.5) on --device (cpu,
   or cuda with TF32 off) and write OUT/PRESET.ref_top5.jsonl and OUT/PRESET.ref_logits.npy;
   with --ref-bf16 also under torch.autocast(bfloat16) into OUT/PRESET.ref_bf16_logits.npy.
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the
   max abs / relative L2 error of the logits and of their image-dependent part (logits minus
   the mean over the images; random-init models give nearly the same logits for every image).
   With --ref-bf16, the same measures for PyTorch's BF16 against its F32 (the baseline for
   `seer classify --precision bf16`).

    PY=/work/ref/venv/bin/python
    $PY tools/golden/compare_van.py --out /tmp/van_cmp --images ../shared/data/imagenet-val-1300/val
    ./build/seer classify --weights /tmp/van_cmp/van_b0.safetensors --format jsonl --topk 5 \\
        --output /tmp/van_cmp/seer.jsonl --logits /tmp/van_cmp/seer_logits.safetensors \\
        ../shared/data/imagenet-val-1300/val
    $PY tools/golden/compare_van.py --out /tmp/van_cmp --images ../shared/data/imagenet-val-1300/val \\
        --seer-jsonl /tmp/van_cmp/seer.jsonl --seer-logits /tmp/van_cmp/seer_logits.safetensors

Step 1-2 are skipped when their outputs exist (--force redoes them). --limit N uses the first
N images (sorted paths); the seer run must then be given the same files (--list-out writes them).
--ref DIR: the folder holding VAN-Classification/models/van.py.
"""
import argparse
import os
import sys
import warnings

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from ref_sparsifiner import load_module  # noqa: E402
from seer_compare import add_args, compare, prepare, references  # noqa: E402


def build(args):
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        van = load_module("van_ref", os.path.join(args.ref, "VAN-Classification", "models", "van.py"))
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
    return create_transform(input_size=cfg["input_size"], is_training=False,
                            interpolation=cfg["interpolation"], mean=cfg["mean"], std=cfg["std"],
                            crop_pct=cfg["crop_pct"])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="van_b0")
    add_args(ap, batch=32)
    ap.add_argument("--ref", default="/work/ref", help="folder holding VAN-Classification/")
    args = ap.parse_args()

    files = prepare(args, "compare_van")
    model = build(args)
    ref, ref_bf16, _ = references(args, model, eval_transform(model), files, args.preset)
    print(f"{args.preset}: {len(files)} images")
    compare(args, files, ref, ref_bf16)


if __name__ == "__main__":
    main()
