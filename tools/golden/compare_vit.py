#!/work/ref/venv/bin/python
"""Real-preset check of the ViT family outside CI: the reference implementations vs seer.

Presets: deit_*_patch16_224 and deit_*_distilled_patch16_224 (timm), sparsifiner (official
src/models/sparsifiner.py as src/main.py builds it with sparsifiner_default_config.yaml),
agent_deit_tiny / agent_deit_small / agent_deit_base / agent_deit_small_448 (official
agent_deit.py as models/build.py builds it from cfgs/agent_deit_*.yaml).

1. Build PRESET with the reference's own random init (torch.manual_seed(SEED)), then, unless
   --head-std 0, redraw the classifier head(s) from N(0, head_std^2) (seeded): Agent-DeiT's init
   zeroes the head (every logit would be 0) and timm's 0.02 leaves the classes nearly tied.
   Write OUT/TAG.safetensors (official state_dict keys, seer.arch metadata).
2. Run the reference on every image under IMAGES (recursively, sorted) with the official eval
   transform on PIL images (DeiT/Sparsifiner: bicubic Resize(int(224 / 0.875)) = 256 of the short
   side, CenterCrop 224; Agent: bicubic Resize((256, 256)) squashing, CenterCrop 224; at 448:
   512 and 448; ImageNet mean/std) on --device (cpu, or cuda with TF32 off) and write
   OUT/TAG.ref_top5.jsonl, OUT/TAG.ref_logits.npy; with --ref-bf16 also under
   torch.autocast(bfloat16) into OUT/TAG.ref_bf16_logits.npy.
3. With --seer-jsonl (from `seer classify --format jsonl --topk 5`), print the share of files
   whose top-5 sets (and top-1) agree; with --seer-logits (`seer classify --logits FILE`), the max
   abs / relative L2 error of the logits and of their image-dependent part. With --ref-bf16,
   the same measures for PyTorch's BF16 against its F32 (the baseline for
   `seer classify --precision bf16`).

    PY=/work/ref/venv/bin/python
    $PY tools/golden/compare_vit.py --preset deit_small_patch16_224 --out /tmp/vit_cmp \\
        --images ../shared/data/imagenet-val-1300/val --list-out /tmp/vit_cmp/files.txt
    ./build/seer classify --weights /tmp/vit_cmp/deit_small_patch16_224.safetensors \\
        --format jsonl --topk 5 --output /tmp/vit_cmp/deit_small_patch16_224.seer.jsonl \\
        --logits /tmp/vit_cmp/deit_small_patch16_224.seer_logits.safetensors \\
        ../shared/data/imagenet-val-1300/val
    $PY tools/golden/compare_vit.py --preset deit_small_patch16_224 --out /tmp/vit_cmp \\
        --images ../shared/data/imagenet-val-1300/val \\
        --seer-jsonl /tmp/vit_cmp/deit_small_patch16_224.seer.jsonl \\
        --seer-logits /tmp/vit_cmp/deit_small_patch16_224.seer_logits.safetensors

On the GPU machine: scripts/gpu-agree.sh runs these presets as it runs the VOLO, HaloNet, VAN
and BiFormer ones. Steps 1-2 are skipped when their outputs exist (--force redoes them).
--limit N uses the first N images (sorted paths); give seer the same files (--list-out writes
them, one a line). --ref DIR: the folder holding Sparsifiner/ and Agent-Attention/ (the
official checkouts, or the files `bench/attention_table.sh pack` copies into .gpu/ref, with
yacs in its pydeps/).
"""
import argparse
import os
import sys
import warnings

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from seer_compare import add_args, compare, prepare, references  # noqa: E402


# Agent-DeiT presets: embed_dim, num_heads, agents, agent_layer (-1: all 12 blocks), img_size
AGENT = {"agent_deit_tiny": (192, 3, 49, -1, 224), "agent_deit_small": (384, 6, 49, -1, 224),
         "agent_deit_base": (768, 12, 81, 4, 224), "agent_deit_small_448": (384, 6, 49, -1, 448)}


def build_reference(preset, seed, ref):
    """The reference model and its eval transform."""
    import torch
    os.environ["SEER_REF"] = ref  # make_vit reads the reference folder from it when imported
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import make_vit
        torch.manual_seed(seed)
        if preset.startswith("deit_"):
            model = make_vit.timm.create_model(preset, pretrained=False)
            return model, make_vit.eval_transform("deit", 224)
        if preset == "sparsifiner":
            model, _ = make_vit.build_sparsifiner()
            # Its eval forward returns a dict; the logits are its "x".
            model.register_forward_hook(lambda m, inputs, out: out["x"])
            return model, make_vit.eval_transform("deit", 224)
        if preset in AGENT:
            e, h, a, layers, size = AGENT[preset]
            model = make_vit.build_agent_deit(img_size=size, patch_size=16, embed_dim=e, depth=12,
                                              num_heads=h, agent_num=[str(a)] * 4, agent_layer=layers)
            return model, make_vit.eval_transform("agent", size)
    raise SystemExit(f"compare_vit: unknown preset {preset}")


def build(args):
    """The reference (head and predictor as asked), its weights in OUT/TAG.safetensors, and
    its eval transform."""
    import torch
    model, tf = build_reference(args.preset, args.seed, args.ref)
    if args.head_std > 0:
        g = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            for name in ("head", "head_dist"):
                head = getattr(model, name, None)
                if isinstance(head, torch.nn.Linear):
                    head.weight.copy_(torch.randn(head.weight.shape, generator=g) * args.head_std)
                    head.bias.zero_()
    if args.predictor_scale != 1.0:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("mask_predictor.proj_n"):
                    p.mul_(args.predictor_scale)
    model.eval()
    path = os.path.join(args.out, f"{args.tag}.safetensors")
    if args.force or not os.path.exists(path):
        sd = {k: v.detach().numpy() for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")}
        seer_st.write_safetensors(path, sd, {"seer.arch": args.preset,
                                             "seer.source": f"reference init, seed {args.seed}, head std "
                                                            f"{args.head_std}, predictor scale {args.predictor_scale}"})
        print(f"wrote {path}: {len(sd)} tensors")
    return model, tf


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="deit_small_patch16_224")
    add_args(ap, batch=32)
    ap.add_argument("--head-std", type=float, default=1.0,
                    help="redraw the head(s) from N(0, std^2); 0 keeps the reference init")
    ap.add_argument("--predictor-scale", type=float, default=1.0,
                    help="Sparsifiner: multiply proj_n (its random init leaves the low-rank softmax "
                         "nearly uniform, so the top-8 choice is decided by rounding); 50 gives a "
                         "peaked predictor as a trained one")
    ap.add_argument("--tag", help="name of the output files (default: the preset)")
    ap.add_argument("--ref", default="/work/ref", help="folder holding Sparsifiner/ and Agent-Attention/")
    args = ap.parse_args()
    args.tag = args.tag or args.preset

    files = prepare(args, "compare_vit")
    model, tf = build(args)
    ref, ref_bf16, _ = references(args, model, tf, files, args.tag)
    print(f"{args.preset}: {len(files)} images")
    compare(args, files, ref, ref_bf16)


if __name__ == "__main__":
    main()
