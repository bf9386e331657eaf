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
   mean/std) on --device (cpu, or cuda with TF32 off) and write OUT/PRESET.ref_top5.jsonl and
   OUT/PRESET.ref_logits.npy; with --ref-bf16 also under torch.autocast(bfloat16) into
   OUT/PRESET.ref_bf16_logits.npy.
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the
   max abs / relative L2 error of the logits and of their image-dependent part (logits minus
   the mean over the images; random-init models give nearly the same logits for every image).
   With --ref-bf16, the same measures for PyTorch's BF16 against its F32 (the baseline for
   `seer classify --precision bf16`).

    PY=/work/ref/venv/bin/python
    $PY tools/golden/compare_biformer.py --out /tmp/bf_cmp --images ../shared/data/imagenet-val-1300/val
    ./build/seer classify --weights /tmp/bf_cmp/biformer_tiny.safetensors --format jsonl --topk 5 \\
        --output /tmp/bf_cmp/seer.jsonl --logits /tmp/bf_cmp/seer_logits.safetensors \\
        ../shared/data/imagenet-val-1300/val
    $PY tools/golden/compare_biformer.py --out /tmp/bf_cmp --images ../shared/data/imagenet-val-1300/val \\
        --seer-jsonl /tmp/bf_cmp/seer.jsonl --seer-logits /tmp/bf_cmp/seer_logits.safetensors

On the GPU machine: the same with `--device cuda` for the reference, and seer with
`--device cuda --precision f32` (then `bf16`, each into its own --output/--logits files);
scripts/gpu-agree.sh does that for this and the VOLO, HaloNet and VAN presets.

Steps 1-2 are skipped when their outputs exist (--force redoes them). --limit N uses the first
N images (sorted paths); the seer run must then be given the same files (--list-out writes
them). --ref DIR: the folder holding the BiFormer checkout (models/, ops/, datasets.py).
Routing ties: seer's top-k keeps the lower region index first; torch.topk may order exact ties
otherwise (real-valued routing scores do not tie in practice).
"""
import argparse
import importlib.util
import os
import sys
import types
import warnings

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from ref_sparsifiner import import_biformer, load_module  # noqa: E402
from seer_compare import add_args, compare, prepare, references  # noqa: E402


def build(args):
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        biformer = import_biformer(args.ref)
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


def eval_transform(ref):
    """The repository's eval transform, as main.py builds it (input_size 224)."""
    datasets = load_module("biformer_datasets", os.path.join(ref, "BiFormer", "datasets.py"))
    return datasets.build_transform(False, types.SimpleNamespace(input_size=224))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="biformer_tiny",
                    choices=["biformer_tiny", "biformer_small", "biformer_base"])
    add_args(ap, batch=32)
    ap.add_argument("--init", default="official", choices=["official", "golden"])
    ap.add_argument("--ref", default="/work/ref", help="folder holding BiFormer/")
    args = ap.parse_args()

    files = prepare(args, "compare_biformer")
    model = build(args)
    ref, ref_bf16, _ = references(args, model, eval_transform(args.ref), files, args.preset)
    print(f"{args.preset}: {len(files)} images")
    compare(args, files, ref, ref_bf16)


if __name__ == "__main__":
    main()
