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
   to floor(size / crop_pct), center crop) on --device (cpu, or cuda with TF32 off) and write
   OUT/TAG.ref_top5.jsonl and OUT/TAG.ref_logits.npy (TAG = PRESET, or PRESET.bn with
   --random-bn); with --ref-bf16 also under torch.autocast(bfloat16) into
   OUT/TAG.ref_bf16_logits.npy.
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the
   max abs / relative L2 error of the logits and of their image-dependent part (logits minus
   the mean over the images: random-init models give nearly the same logits for every image).
   With --f64 the reference also runs in float64, and both float32 results (seer's and timm's)
   are measured against it: a random network can amplify rounding on some images, and then
   seer vs timm float32 differs by about as much as either differs from float64.
   With --ref-bf16, the same measures for PyTorch's BF16 against its F32 (the baseline for
   `seer classify --precision bf16`).

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
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from seer_compare import add_args, compare, prepare, references, timm_eval_transform  # noqa: E402

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
        tf = timm_eval_transform(model)
        calib = [tf(Image.open(f).convert("RGB")) for f in files[:args.calib]]
        randomize_bn(model, args.seed, torch.stack(calib))
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()
          if not k.endswith("num_batches_tracked")}
    src = f"timm init, seed {args.seed}" + (", random BN" if args.random_bn else "")
    seer_st.write_safetensors(path, sd, {"seer.arch": args.preset, "seer.source": src})
    print(f"wrote {path}: {len(sd)} tensors")
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="halonet26t", choices=PRESETS)
    add_args(ap, batch=16)
    ap.add_argument("--random-bn", action="store_true",
                    help="also randomize BatchNorm params/statistics (see step 1)")
    ap.add_argument("--calib", type=int, default=16,
                    help="--random-bn: images (the first N) that set the BN statistics")
    ap.add_argument("--f64", action="store_true",
                    help="also run the reference in float64 (OUT/TAG.ref_logits64.npy) and measure "
                         "seer's and timm's float32 logits against it")
    args = ap.parse_args()

    files = prepare(args, "compare_halonet")
    tag = args.preset + (".bn" if args.random_bn else "")
    model = build(args, tag, files)
    ref, ref_bf16, ref64 = references(args, model, timm_eval_transform(model), files, tag, args.f64)
    print(f"{tag}: {len(files)} images")
    compare(args, files, ref, ref_bf16, ref64)


if __name__ == "__main__":
    main()
