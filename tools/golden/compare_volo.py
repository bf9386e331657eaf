#!/work/ref/venv/bin/python
"""Real-preset check of VOLO outside CI: timm's VOLO vs seer.

1. Build PRESET (volo_d1_224 .. volo_d5_512) with timm (pretrained=False: timm's own random
   init after torch.manual_seed(SEED)) and write OUT/PRESET.safetensors (timm's state_dict keys,
   seer.arch metadata as tools/convert.py writes it).
2. Run timm on every image under IMAGES (recursively, sorted) in eval mode with the preset's
   eval transform (its pretrained_cfg through timm's resolve_data_config + create_transform:
   PIL bicubic resize of the short side to floor(size / crop_pct), center crop (zero padded
   when crop_pct > 1), ImageNet mean/std) on --device (cpu, or cuda with TF32 off) and write
   OUT/PRESET.ref_top5.jsonl and OUT/PRESET.ref_logits.npy; with --ref-bf16 also under
   torch.autocast(bfloat16) into OUT/PRESET.ref_bf16_logits.npy.
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the
   max abs / relative L2 error of the logits and of their image-dependent part (logits minus
   their mean over the images: random-init models give nearly the same logits for every image).
   With --ref-bf16, the same measures for PyTorch's BF16 against its F32 (the baseline for
   `seer classify --precision bf16`).

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
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from seer_compare import add_args, compare, prepare, references, timm_eval_transform  # noqa: E402


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="volo_d1_224")
    add_args(ap, batch=16)
    args = ap.parse_args()

    files = prepare(args, "compare_volo")
    model = build(args)
    ref, ref_bf16, _ = references(args, model, timm_eval_transform(model), files, args.preset)
    print(f"{args.preset}: {len(files)} images")
    compare(args, files, ref, ref_bf16)


if __name__ == "__main__":
    main()
