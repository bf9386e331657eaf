#!/work/ref/venv/bin/python
"""Checks Sparsifiner on LV-ViT (`sparsifiner_lvvit`) in tools/torch_ref/vit.py against the
official code and against seer.

(a) The official SparsifinerLVViT (src/models/sparsifiner_lvvit.py, built as src/main.py builds
    it, sparsifiner_default_config.yaml) with random weights (make_vit.perturb_lvvit: LayerNorm
    and stem BatchNorm affine + running statistics, tokens, both heads scaled up, proj_n x 50),
    copied into vit.py's model (strict state_dict load): eval logits and every block's
    connectivity mask, and train-mode logits (class head only, batch-statistics BatchNorm), at
    the golden fixture's tiny config and at the real LV-ViT-S preset (224, 16 blocks).
(b) seer: the LV-ViT-S model of (a) exported without metadata (the registry preset supplies
    the whole config), run by `seer classify --model sparsifiner_lvvit
    --weights FILE --logits` on ImageNet sample photos; seer's logits vs vit.py's on the official
    eval transform's pixels (PIL: Resize(int(224 / 0.875)) bicubic, CenterCrop 224).

    /work/ref/venv/bin/python tools/torch_ref/check_lvvit.py [--seer build-cpu/seer] [--images 3]

References are read from $SEER_REF (default /work/ref). Prints PASS or FAIL per item and
exits 1 on any FAIL. The exported LV-ViT-S file (~106 MB) lives in a temporary directory.
"""
import argparse
import copy
import os
import sys
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import make_vit  # noqa: E402  (the reference builder, perturbation, eval transform)
import vit  # noqa: E402
from check_vit import FAILED, copy_into, errors, report  # noqa: E402
from seer_check import seer_logits  # noqa: E402

TOL_REF = 1e-5  # rel-L2, f32, official vs vit.py
TOL_SEER = 1e-4  # rel-L2, f32, seer vs vit.py
DATA = os.path.join(ROOT, "..", "shared", "data")


def quiet_build(**kw):
    """The official model (it prints while it builds)."""
    with open(os.devnull, "w") as null:
        so, sys.stdout = sys.stdout, null
        try:
            return make_vit.build_sparsifiner_lvvit(**kw)
        finally:
            sys.stdout = so


def check_official(name, x, seed, **kw):
    """Official vs vit.py (item a). Returns vit.py's model (eval mode)."""
    torch.manual_seed(0)
    ref, cfg = quiet_build(**kw)
    make_vit.perturb_lvvit(ref, seed=seed)
    ref.eval()
    o, gap = make_vit.sparsifiner_gap(ref, cfg, x)
    mp = ref.blocks[0].attn.mask_predictor
    print(f"{name}: L {mp.num_tokens}, reduced tokens {mp.reduced_n}, reduced channels {mp.reduced_c}, "
          f"keys kept {mp.attn_budget}; min relative top-k gap {gap:.1e}")
    c = kw
    ours = vit.build_sparsifiner_lvvit(
        img_size=c.get("img_size", 224), patch_size=c.get("patch_size", 16), embed_dim=c.get("embed_dim", 384),
        depth=c.get("depth", 16), num_heads=c.get("num_heads", 6), num_classes=c.get("num_classes", 1000),
        reduce_n_factor=c.get("reduce_n_factor", 6)).eval()
    copy_into(ours, ref)
    for a in ours.sparse_blocks():
        a.keep_mask = True
    with torch.no_grad():
        y = ours(x)
    e = errors(y, o["x"])
    report(f"{name} eval logits", e[1] <= TOL_REF,
           f"max abs {e[0]:.2e}, rel-L2 {e[1]:.2e} (image-dependent part {e[2]:.2e})")
    masks = o["attn_mask_list"]
    diff = sum((a.last_mask != m.bool()).sum().item() for a, m in zip(ours.sparse_blocks(), masks))
    report(f"{name} eval masks", diff == 0,
           f"{diff} of {sum(m.numel() for m in masks)} mask entries differ over {len(masks)} blocks")
    # train mode updates BatchNorm's running statistics: run it on copies
    ref_t, ours_t = copy.deepcopy(ref).train(), copy.deepcopy(ours).train()
    with torch.no_grad():
        e = errors(ours_t(x), ref_t(x)["x"])
    report(f"{name} train-mode logits", e[1] <= TOL_REF, f"max abs {e[0]:.2e}, rel-L2 {e[1]:.2e}")
    return ours, ref


def aux_share(model, x):
    """|0.5 max aux_head| / |logits|: how much of the eval logits the token-labeling head gives."""
    with torch.no_grad():
        y = model(x)
        cls = model.head(model.forward_features(x)[:, 0])
    return ((y - cls).norm() / y.norm()).item()


def check_seer(seer, model, ref, files, x):
    with torch.no_grad():
        want = model(x)
        # the model's own sensitivity to rounding: the official code in float64 vs vit.py in
        # float32 (near-ties in the top-k choices flip a few mask entries between the two)
        o64 = copy.deepcopy(ref).double()(x.double())
    flips = sum((a.last_mask != m.bool()).sum().item() for a, m in zip(model.sparse_blocks(), o64["attn_mask_list"]))
    e = errors(want, o64["x"])
    print(f"rounding floor: official float64 vs vit.py float32: rel-L2 {e[1]:.2e} (image-dependent part "
          f"{e[2]:.2e}), {flips} mask entries differ")
    # no metadata: `--model sparsifiner_lvvit` and the registry preset supply the whole config
    got = torch.from_numpy(seer_logits(seer, model, {}, files, args=["--model", "sparsifiner_lvvit"]))
    e = errors(got, want)
    top1 = (got.argmax(1) == want.argmax(1)).float().mean().item()
    report(f"seer sparsifiner_lvvit LV-ViT-S 224 ({len(files)} ImageNet photos)", e[1] <= TOL_SEER,
           f"max abs {e[0]:.2e}, rel-L2 {e[1]:.2e} (image-dependent part {e[2]:.2e}), top-1 agree {top1:.0%}, "
           f"logit scale {want.abs().max().item():.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seer", default=os.path.join(ROOT, "build-cpu", "seer"))
    ap.add_argument("--images", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    photos = sorted(os.listdir(os.path.join(DATA, "imagenet-samples")))[:args.images]
    files = [os.path.join(DATA, "imagenet-samples", f) for f in photos]
    t24, t224 = make_vit.eval_transform("deit", 24), make_vit.eval_transform("deit", 224)
    x24 = torch.stack([t24(make_vit.load_rgb(f)) for f in files])
    x224 = torch.stack([t224(make_vit.load_rgb(f)) for f in files])
    check_official("official vs vit.py, fixture config (24 px, 4x4 patches, 2 blocks)", x24, seed=5,
                   img_size=24, patch_size=4, embed_dim=32, depth=2, num_heads=2, num_classes=10, reduce_n_factor=3)
    model, ref = check_official("official vs vit.py, LV-ViT-S 224", x224, seed=1)
    print(f"token-labeling head's share of the LV-ViT-S logits: {aux_share(model, x224):.2f}")
    check_seer(args.seer, model, ref, files, x224)
    print("FAIL: " + ", ".join(FAILED) if FAILED else "PASS: all checks")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
