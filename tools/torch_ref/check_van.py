"""Parity of tools/torch_ref/van.py with the official VAN-Classification models/van.py and with
seer (backbones/van.c).

(a) The reference built at two configs, its random weights (BatchNorm statistics and affines,
    LayerNorm affines, conv biases and layer scales randomized away from their init, head scaled
    up) copied into our model by state_dict key names (strict):
      tiny:  dims 8/16/24/32, depths 1/2/1/2, the official 7x7 stride-4 first patch embedding;
      cifar: the CIFAR config, the reference's first OverlapPatchEmbed rebuilt by its own class
             with our stem (7x7 stride 2), as the reference's constructor cannot pass it.
    Compared on CIFAR test images (and, for tiny, an odd-sized 60x76 input): eval-mode logits,
    train-mode logits (BatchNorm on batch statistics; drop path 0) and the gradients of every
    parameter after a backward of the train-mode loss.
(b) The CIFAR model (randomized as above) exported with cifar_metadata() and run by
    `seer classify --logits` on 16 CIFAR test images; seer's logits against ours.
--fixture also writes tests/golden/van_cifar_stem.{weights,io}.safetensors (tests/test_van.c):
    the tiny config with a 5x5 stride-2 first patch embedding (the seer.stem_kernel /
    seer.stem_stride knobs), 10 classes, made by our model after its parity with the
    reference at that config is checked; inputs: 2 CIFAR images (32x32 -> maps 16, 8, 4, 2) and
    one cropped to 29x23 (maps 15x12, 8x6, 4x3, 2x2); logits and the four stage outputs (NHWC).

    /work/ref/venv/bin/python tools/torch_ref/check_van.py [--seer build-cpu/seer]
        [--ref /work/ref/VAN-Classification] [--fixture] [--time]
"""
import argparse
import os
import sys
import warnings
from functools import partial

import torch
import torch.nn as nn

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
from torch_ref import van as ours  # noqa: E402
from torch_ref.seer_check import (save_fixture, SEER, cifar_files, compare, compare_models,  # noqa: E402
                                  load_cifar, seer_logits, timing)

TINY = dict(embed_dims=[8, 16, 24, 32], depths=[1, 2, 1, 2], mlp_ratios=[8, 8, 4, 4])


def import_reference(ref):
    sys.path.insert(0, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from models import van  # noqa: E402
    return van


def randomize(model, head_scale=20.0):
    """Every parameter away from an identity: BN statistics/affines, LN affines, conv biases,
    layer scales (1e-2 at init) with random signs and sizes; the head scaled up."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.bias.normal_(0, 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_(1, 0.3)
                m.bias.normal_(0, 0.3)
            elif isinstance(m, nn.LayerNorm):
                m.weight.normal_(1, 0.3)
                m.bias.normal_(0, 0.3)
        for name, p in model.named_parameters():
            if "layer_scale" in name:
                p.copy_(torch.empty_like(p).uniform_(0.3, 1.0) * torch.sign(torch.randn_like(p)))
        model.head.weight.mul_(head_scale)
        model.head.bias.normal_(0, 0.1)


def build_reference(van, cfg, stem_kernel=7, stem_stride=4, num_classes=10):
    model = van.VAN(num_classes=num_classes, norm_layer=partial(nn.LayerNorm, eps=1e-6), **cfg)
    if (stem_kernel, stem_stride) != (7, 4):
        model.patch_embed1 = van.OverlapPatchEmbed(patch_size=stem_kernel, stride=stem_stride,
                                                   in_chans=3, embed_dim=cfg["embed_dims"][0])
    return model


def exact_zero(name):
    """The patch embeddings' conv biases: a train-mode BatchNorm follows and removes them."""
    return name.startswith("patch_embed") and name.endswith("proj.bias")


def write_fixture(model, x, out_dir):
    """model: ours, eval mode. x: [N, 3, 32, 32]."""
    io = {}
    for key, xi in (("a", x[:2]), ("b", x[2:3, :, 3:32, 5:28])):
        with torch.no_grad():
            stages = model.stages(xi)
            logits = model(xi)
        io[f"input_{key}"] = xi.permute(0, 2, 3, 1).numpy()
        io[f"logits_{key}"] = logits.numpy()
        for i, st in enumerate(stages):
            io[f"stage{i + 1}_{key}"] = st.permute(0, 2, 3, 1).numpy()
        print(f"  fixture {key}: input {tuple(xi.shape[2:])}, stages "
              f"{[tuple(st.shape[2:]) for st in stages]}, logit std {logits.std(1).numpy().round(2)}")
    meta = dict(ours.metadata(stem_kernel=5, stem_stride=2, num_classes=10, **TINY),
                **{"seer.preprocess": "cifar", "seer.labels": "cifar10"})
    save_fixture(out_dir, "van_cifar_stem", model, meta, io, "tools/torch_ref/check_van.py")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seer", default=SEER)
    ap.add_argument("--ref", default="/work/ref/VAN-Classification")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time", action="store_true", help="forward+backward timing, batch 64")
    ap.add_argument("--fixture", action="store_true", help="write the van_cifar_stem fixture")
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    van = import_reference(args.ref)
    files = cifar_files(16)
    x = torch.from_numpy(load_cifar(files))
    ok = True

    # (a) reference vs ours
    torch.manual_seed(0)
    ref = build_reference(van, TINY)
    randomize(ref)
    odd = torch.randn(2, 3, 60, 76)
    ok &= compare_models("tiny (official 7x7/4 stem)", ref, ours.VAN(num_classes=10, **TINY),
                         [("16 CIFAR images", x), ("random 60x76", odd)], exact_zero=exact_zero)

    if args.fixture:
        torch.manual_seed(2)
        ref = build_reference(van, TINY, stem_kernel=5, stem_stride=2)
        randomize(ref)
        mine = ours.VAN(num_classes=10, stem_kernel=5, stem_stride=2, **TINY)
        ok &= compare_models("tiny, 5x5 stride-2 stem (fixture)", ref, mine, [("CIFAR", x)],
                             exact_zero=exact_zero)
        if ok:
            write_fixture(mine, x, args.out)

    cfg = {k: list(v) for k, v in ours.CIFAR.items() if k not in ("stem_kernel", "stem_stride")}
    torch.manual_seed(1)
    ref = build_reference(van, cfg, ours.CIFAR["stem_kernel"], ours.CIFAR["stem_stride"])
    randomize(ref)
    mine = ours.build_cifar(drop_path_rate=0.0)
    ok &= compare_models("cifar config", ref, mine, [("16 CIFAR images", x)],
                         exact_zero=exact_zero)

    # (b) seer vs ours, on the randomized CIFAR model
    with torch.no_grad():
        y = mine(x).numpy()
    print(f"seer ({args.seer}) vs torch_ref, CIFAR config, {len(files)} CIFAR test images:")
    ok &= compare("logits", seer_logits(args.seer, mine, ours.cifar_metadata(), files), y, 1e-4)

    model = ours.build_cifar()
    print(f"CIFAR model: {sum(p.numel() for p in model.parameters()) / 1e6:.3f} M parameters")
    if args.time:
        print(f"forward+backward, batch 64, CPU ({args.threads} threads): "
              f"{timing(model):.3f} s")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
