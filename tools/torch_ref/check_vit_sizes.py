#!/work/ref/venv/bin/python
"""seer's ViT family at input sizes above 224 (more tokens) against tools/torch_ref/vit.py
(which check_vit.py proves equal to the official code): DeiT-S-sized Sparsifiner (default
config: keep rate 0.25, reduce_n 6, reduce_c 2, top-8 coefficients), Agent-DeiT-S and DeiT-S,
built at --sizes with random weights (make_vit.perturb, so that Sparsifiner's top-k choices are
clear), exported with seer.config img_size=S, run by `seer classify --logits` on ImageNet
sample photos through the DeiT / Agent eval transforms at that size.

    /work/ref/venv/bin/python tools/torch_ref/check_vit_sizes.py [--seer build-cpu/seer]
        [--sizes 384] [--models sparsifiner,agent,dense] [--images 3]

Prints the errors per model and size, PASS/FAIL at rel-L2 1e-4, exits 1 on any FAIL.
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
sys.path.insert(0, HERE)
import make_vit  # noqa: E402  (eval transforms, perturb, topk_gap)
import seer_check  # noqa: E402
import vit  # noqa: E402

TOL = 1e-4  # rel-L2, f32, seer vs vit.py (as check_vit.py)
DEIT_S = dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, num_classes=1000)
ARCH = {"sparsifiner": "sparsifiner", "agent": "agent_deit_small", "dense": "deit_small_patch16_224"}


def predictor_gap(model, x):
    """Smallest relative gap at Sparsifiner's two top-k boundaries on x (near-ties there make
    the masks, hence the logits, depend on summation order)."""
    acts = []
    hooks = [b.attn.register_forward_hook(lambda m, a, r: acts.append(a[0])) for b in model.blocks]
    with torch.no_grad():
        model(x)
        for h in hooks:
            h.remove()
        gap = 1.0
        for b, h in zip(model.blocks, acts):
            q, k, _, _ = b.attn.heads(h)
            mp = b.attn.mask_predictor
            coef = mp.coefficients(q, k)
            top = vit.topk_index(coef, mp.coef_topk)
            sparse = torch.zeros_like(coef).scatter_(-1, top, coef.gather(-1, top))
            basis = mp.proj_back_n.t().abs()
            approx = sparse @ torch.where(basis > mp.basis_threshold, basis, torch.zeros_like(basis))
            gap = min(gap, make_vit.topk_gap(coef, mp.coef_topk), make_vit.topk_gap(approx, mp.attn_budget))
    return gap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seer", default=seer_check.SEER)
    ap.add_argument("--sizes", default="384")
    ap.add_argument("--models", default="sparsifiner,agent,dense")
    ap.add_argument("--images", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = os.path.join(ROOT, "..", "shared", "data", "imagenet-samples")
    files = [os.path.join(data, f) for f in sorted(os.listdir(data))[:args.images]]
    failed = []
    for size in map(int, args.sizes.split(",")):
        for name in args.models.split(","):
            preset = "agent" if name == "agent" else "deit"
            pre = f"agent,squash={int(256 / 224 * size)},size={size}" if name == "agent" else f"deit,size={size}"
            t = make_vit.eval_transform(preset, size)
            x = torch.stack([t(make_vit.load_rgb(f)) for f in files])
            torch.manual_seed(0)
            model = vit.VisionTransformer(attn=name, img_size=size, **DEIT_S).eval()
            make_vit.perturb(model)
            note = ""
            if name == "sparsifiner":
                mp = model.blocks[0].attn.mask_predictor
                note = (f"; L {mp.proj_n.shape[0]}, reduced tokens {mp.reduced_n}, keys kept {mp.attn_budget}, "
                        f"min relative top-k gap {predictor_gap(model, x):.1e}")
            with torch.no_grad():
                ref = model(x).numpy()
            meta = {"seer.arch": ARCH[name], "seer.config": model.seer_config(), "seer.preprocess": pre}
            got = seer_check.seer_logits(args.seer, model, meta, files)
            print(f"{name} at {size} ({len(files)} photos, preprocess {pre}{note})")
            if not seer_check.compare("seer vs vit.py logits", got, ref, TOL):
                failed.append(f"{name}@{size}")
    print("FAIL: " + ", ".join(failed) if failed else "PASS: all checks")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
