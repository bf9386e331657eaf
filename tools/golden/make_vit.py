#!/work/ref/venv/bin/python
"""Golden fixtures of the ViT family (backbones/vit*.c) from the reference implementations with
random weights (seed 0), tiny configs that keep every mechanism:

  vit_deit_dist   timm VisionTransformerDistilled (class + distillation tokens, two heads)
  vit_deit        timm VisionTransformer (class token only)
  vit_sparsifiner Sparsifiner (src/models/sparsifiner.py, default config's mechanics: top-8
                  basis coefficients, basis threshold 0.02, keep rate 0.25) + the masks
  vit_agent32     Agent-DeiT (agent_deit.py), 4x4 patches, 4 agents (bias 7x7 -> 4x4)
  vit_agent48     Agent-DeiT, 6x6 patches, 16 / 16 / 9 agents by stage (uneven pooling),
                  a dense last block (agent_layer)
  vit_sparsifiner_lvvit  Sparsifiner on LV-ViT (src/models/sparsifiner_lvvit.py as src/main.py
                  builds `sparsifiner_lvvit`: the 64-wide conv stem with BatchNorm, skip_lam 2,
                  no qkv bias, LayerNorm eps 1e-5, the token-labeling aux head) at 24x24 with
                  4x4 patches + the masks; weights, input and masks stored as F16 (the
                  reference ran on the F16-rounded values) to keep the 64-wide stem small

Inputs: photos of ../shared/data/imagenet-samples through each model's eval transform at the
tiny size. Writes tests/golden/<name>.{weights,io}.safetensors; the weights carry seer.arch and
seer.config (the config overrides). Also the reference builders compare_vit.py uses.

    /work/ref/venv/bin/python tools/golden/make_vit.py [--data ../shared/data]
"""
import argparse
import importlib
import os
import sys
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seer_st  # noqa: E402
from ref_sparsifiner import load_module, sparsifiner_cfg  # noqa: E402

REF = os.environ.get("SEER_REF", "/work/ref")
sys.path.insert(0, os.path.join(REF, "pytorch-image-models"))
import timm  # noqa: E402
from torchvision import transforms  # noqa: E402
from torchvision.transforms import InterpolationMode  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PHOTOS = ["n01498041_stingray.JPEG", "n02110185_Siberian_husky.JPEG", "n03345487_fire_engine.JPEG"]


# ---- references ------------------------------------------------------------------------------

def sparsifiner_module_and_cfg():
    """src/models/sparsifiner.py and the yacs cfg of sparsifiner_default_config.yaml."""
    cfg = sparsifiner_cfg(REF)
    mod = load_module("sparsifiner_ref", os.path.join(REF, "Sparsifiner", "src", "models", "sparsifiner.py"))
    return mod, cfg


def build_sparsifiner(img_size=224, patch_size=16, embed_dim=384, depth=12, num_heads=6, num_classes=1000,
                      reduce_n_factor=None):
    """As src/main.py builds args.model == 'sparsifiner' (distill=True, no token pruning)."""
    mod, cfg = sparsifiner_module_and_cfg()
    return mod.Sparsifiner(
        img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
        num_classes=num_classes, mlp_ratio=4, qkv_bias=True, distill=True,
        attn_keep_rate_list=[cfg.SPAR.ATTN_KEEP_RATE] * depth, token_keep_rate_list=[1.0] * depth,
        token_pruning_loc_indicator=[False] * depth,
        reduce_n_factor=reduce_n_factor or cfg.SPAR.REDUCE_N_FACTOR, reduce_c_factor=cfg.SPAR.REDUCE_C_FACTOR,
        share_inout_proj=cfg.SPAR.SHARE_INOUT_PROJ, cfg=cfg), cfg


def sparsifiner_lvvit_module():
    """src/models/sparsifiner_lvvit.py (the cfg is sparsifiner_module_and_cfg's)."""
    return load_module("sparsifiner_lvvit_ref",
                       os.path.join(REF, "Sparsifiner", "src", "models", "sparsifiner_lvvit.py"))


def build_sparsifiner_lvvit(img_size=224, patch_size=16, embed_dim=384, depth=16, num_heads=6, num_classes=1000,
                            mlp_ratio=3, reduce_n_factor=None, keep_rate=None, coef_topk=None):
    """As src/main.py builds args.model == 'sparsifiner_lvvit' (LV-ViT-S: p_emb '4_2',
    skip_lam 2, return_dense and mix_token, qkv_bias left at its default False), the default
    config's predictor. Returns (model, cfg); the reference prints while it builds."""
    _, cfg = sparsifiner_module_and_cfg()
    if keep_rate is not None:
        cfg.SPAR.ATTN_KEEP_RATE = keep_rate
    if coef_topk is not None:
        cfg.SPAR.BASIS_COEF.TOPK = coef_topk
    mod = sparsifiner_lvvit_module()
    return mod.SparsifinerLVViT(
        img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
        num_classes=num_classes, mlp_ratio=mlp_ratio, p_emb="4_2", skip_lam=2.0, return_dense=True, mix_token=True,
        distill=True, attn_keep_rate_list=[cfg.SPAR.ATTN_KEEP_RATE] * depth,
        reduce_n_factor=reduce_n_factor or cfg.SPAR.REDUCE_N_FACTOR, reduce_c_factor=cfg.SPAR.REDUCE_C_FACTOR,
        share_inout_proj=cfg.SPAR.SHARE_INOUT_PROJ, cfg=cfg), cfg


def agent_deit_module():
    """agent_transformer/models/agent_deit.py without models/__init__.py (it imports every
    model family) and with timm's register_model made an identity (its cfgs predate timm 1.0)."""
    import timm.models.registry as reg
    reg.register_model = lambda f: f
    pkg = types.ModuleType("agent_models")
    pkg.__path__ = [os.path.join(REF, "Agent-Attention", "agent_transformer", "models")]
    sys.modules["agent_models"] = pkg
    return importlib.import_module("agent_models.agent_deit")


def build_agent_deit(**kw):
    return agent_deit_module().VisionTransformer(**kw)


def eval_transform(preset, size):
    """The eval transforms (PIL + torchvision) of the official repositories."""
    bic = InterpolationMode.BICUBIC
    if preset == "deit":  # DeiT / Sparsifiner build_transform: Resize(int(size / 0.875)), crop
        t = [transforms.Resize(int(size / 0.875), interpolation=bic), transforms.CenterCrop(size)]
    elif preset == "agent":  # Agent-Attention data/build.py: squash to int(256 / 224 * size), crop
        s = int((256 / 224) * size)
        t = [transforms.Resize((s, s), interpolation=bic), transforms.CenterCrop(size)]
    else:
        raise ValueError(preset)
    return transforms.Compose(t + [transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def load_rgb(path):
    from PIL import Image
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


# ---- fixtures --------------------------------------------------------------------------------

def perturb(model, head_std=1.0, token_std=0.5, agent_bias_scale=25.0, seed=1):
    """Make nothing an identity: LayerNorm affine, tokens and position embedding, agent biases;
    heads scaled up so classes separate (REFERENCES.md)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-1]
            if ".norm" in "." + name or name.startswith("norm"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if leaf == "weight" else 0.0))
            elif name in ("cls_token", "dist_token", "pos_embed"):
                p.copy_(torch.randn(p.shape, generator=g) * token_std)
            elif name.startswith("head"):
                p.copy_(torch.randn(p.shape, generator=g) * head_std)
            elif leaf == "proj_n":  # Sparsifiner: a peaked low-rank attention, distinct top-8
                p.mul_(50.0)
            elif leaf.endswith("_bias") and ".attn." in name:
                p.mul_(agent_bias_scale)
            elif leaf == "bias":
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def perturb_lvvit(model, seed=1):
    """perturb() plus what it does not reach in LV-ViT: the stem's BatchNorm (affine and
    running statistics) and the token-labeling head (scaled as the class head)."""
    perturb(model, seed=seed)
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(1.0 + 0.3 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))
        model.aux_head.weight.copy_(torch.randn(model.aux_head.weight.shape, generator=g))


def round_f16(model):
    """Every float parameter and buffer rounded to float16 values (kept float32)."""
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())


def state_dict_np(model, half=False):
    """numpy copies; half: float tensors as float16 (exact after round_f16), BatchNorm's
    num_batches_tracked dropped (seer reads none)."""
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked") and half:
            continue
        a = v.detach().numpy().copy()
        out[k] = a.astype("float16") if half and v.is_floating_point() else a
    return out


def inputs(data, preset, size):
    t = eval_transform(preset, size)
    xs = [t(load_rgb(os.path.join(data, "imagenet-samples", f))) for f in PHOTOS]
    return torch.stack(xs)  # NCHW


def save(out, name, model, arch, vit_cfg, x, outputs, half=False):
    seer_st.write_safetensors(os.path.join(out, f"{name}.weights.safetensors"), state_dict_np(model, half),
                              {"seer.arch": arch, "seer.config": vit_cfg})
    io = {"input": x.permute(0, 2, 3, 1).contiguous().numpy()}
    io.update({k: v.detach().numpy() for k, v in outputs.items()})
    if half:  # the input and the 0/1 masks are exact in float16; the logits stay float32
        io = {k: v.astype("float16") if k != "logits" else v for k, v in io.items()}
    seer_st.write_safetensors(os.path.join(out, f"{name}.io.safetensors"), io,
                              {"files": ",".join(PHOTOS), "torch": torch.__version__})
    print(f"{name}: logits[0][:5] {outputs['logits'][0][:5].numpy().round(3)}")


def make_deit(data, out, distilled):
    torch.manual_seed(0)
    cls = timm.models.deit.VisionTransformerDistilled if distilled else timm.models.vision_transformer.VisionTransformer
    depth = 2 if distilled else 1
    model = cls(img_size=32, patch_size=8, embed_dim=32, depth=depth, num_heads=2, num_classes=10)
    perturb(model)
    model.eval()
    x = inputs(data, "deit", 32)
    with torch.no_grad():
        logits = model(x)
    arch = "deit_tiny_distilled_patch16_224" if distilled else "deit_tiny_patch16_224"
    cfg = f"img_size=32,patch_size=8,embed_dim=32,depth={depth},num_heads=2,num_classes=10"
    save(out, "vit_deit_dist" if distilled else "vit_deit", model, arch, cfg, x, {"logits": logits})


def topk_gap(x, k):
    """Smallest relative gap between the k-th and (k+1)-th largest value of each row."""
    s = torch.sort(x, dim=-1, descending=True)[0]
    gap = (s[..., k - 1] - s[..., k]) / s[..., 0].abs().clamp_min(1e-30)
    return gap.min().item()


def sparsifiner_gap(model, cfg, x):
    """The official Sparsifiner (or SparsifinerLVViT) `model`'s output on x, and the smallest
    relative gap at its two top-k boundaries over all blocks. Exact or near ties there would make
    the masks depend on rounding or on how topk breaks ties (PyTorch's order is
    implementation-defined): the fixtures keep a perturbation seed whose selections are clear."""
    seen = []  # the mask predictors' q, k
    hooks = [b.attn.mask_predictor.register_forward_hook(lambda mod, a, r: seen.append((mod, a[0], a[1])))
             for b in model.blocks]
    with torch.no_grad():
        o = model(x)
        gaps = []
        for (mp, q, k), approx in zip(seen, o["approx_attn_list"]):
            k_low = mp.proj_c_k(k).transpose(-1, -2) @ mp.proj_n
            coef = ((mp.proj_c_q(q) @ k_low) * mp.scale)[..., 1:, :].softmax(-1)
            gaps.append(min(topk_gap(coef, cfg.SPAR.BASIS_COEF.TOPK), topk_gap(approx, mp.attn_budget)))
    for h in hooks:
        h.remove()
    return o, min(gaps)


def save_sparsifiner(out, name, make, arch, cfg_s, x, half=False):
    """A Sparsifiner fixture: logits and every block's mask (0/1 as float) of make(seed) ->
    (model, cfg), the first perturbation seed whose top-k choices are clear (sparsifiner_gap)."""
    for seed in range(1, 50):
        model, cfg = make(seed)
        model.eval()
        o, gap = sparsifiner_gap(model, cfg, x)
        if gap > 2e-5:
            break
    mp = model.blocks[0].attn.mask_predictor
    print(f"{name}: perturb seed", seed, "budget", mp.attn_budget, "reduced_n", mp.reduced_n,
          "reduced_c", mp.reduced_c, "min relative top-k gap", gap)
    assert gap > 2e-5, "no seed without a near-tie in a top-k"
    outs = {"logits": o["x"]}
    for i, m in enumerate(o["attn_mask_list"]):
        outs[f"mask{i}"] = m.float()
    save(out, name, model, arch, cfg_s, x, outs, half)


def make_sparsifiner(data, out):
    def make(seed):
        torch.manual_seed(0)
        model, cfg = build_sparsifiner(img_size=48, patch_size=8, embed_dim=32, depth=2, num_heads=2,
                                       num_classes=10, reduce_n_factor=3)
        perturb(model, seed=seed)
        return model, cfg
    cfg_s = ("img_size=48,patch_size=8,embed_dim=32,depth=2,num_heads=2,num_classes=10,"
             "reduce_n_factor=3")
    save_sparsifiner(out, "vit_sparsifiner", make, "sparsifiner", cfg_s, inputs(data, "deit", 48))


def make_sparsifiner_lvvit(data, out):
    def make(seed):
        torch.manual_seed(0)
        model, cfg = build_sparsifiner_lvvit(img_size=24, patch_size=4, embed_dim=32, depth=2, num_heads=2,
                                             num_classes=10, reduce_n_factor=3)
        perturb_lvvit(model, seed=seed)
        round_f16(model)
        return model, cfg
    cfg_s = ("img_size=24,patch_size=4,embed_dim=32,depth=2,num_heads=2,num_classes=10,mlp_ratio=3,"
             "reduce_n_factor=3")
    x = inputs(data, "deit", 24).half().float()
    save_sparsifiner(out, "vit_sparsifiner_lvvit", make, "sparsifiner_lvvit", cfg_s, x, half=True)


def make_agent(data, out, size, depth, agent_num, agent_layer):
    torch.manual_seed(0)
    model = build_agent_deit(img_size=size, patch_size=8, embed_dim=32, depth=depth, num_heads=2,
                             num_classes=10, agent_num=[str(a) for a in agent_num], agent_layer=agent_layer)
    perturb(model)
    model.eval()
    x = inputs(data, "agent", size)
    with torch.no_grad():
        logits = model(x)
    cfg = (f"img_size={size},patch_size=8,embed_dim=32,depth={depth},num_heads=2,num_classes=10,"
           f"agent_num={'-'.join(map(str, agent_num))},agent_layer={depth if agent_layer < 0 else agent_layer}")
    save(out, f"vit_agent{size}", model, "agent_deit_tiny", cfg, x, {"logits": logits})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "golden"))
    ap.add_argument("--only", help="one fixture maker: deit, sparsifiner, agent or sparsifiner_lvvit")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.only == "sparsifiner_lvvit":
        make_sparsifiner_lvvit(args.data, args.out)
        return
    if args.only:
        raise SystemExit(f"--only {args.only}: only sparsifiner_lvvit is made alone")
    make_deit(args.data, args.out, distilled=True)
    make_deit(args.data, args.out, distilled=False)
    make_sparsifiner(args.data, args.out)
    make_agent(args.data, args.out, 32, depth=2, agent_num=[4, 4, 4, 4], agent_layer=-1)
    make_agent(args.data, args.out, 48, depth=4, agent_num=[16, 9, 4, 4], agent_layer=3)
    make_sparsifiner_lvvit(args.data, args.out)


if __name__ == "__main__":
    main()
