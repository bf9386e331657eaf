#!/work/ref/venv/bin/python
"""Golden fixtures for VOLO, from the reference implementations with random weights (seed 0):

  volo_a  timm's VOLO (volo.py), outlook stride 2 (timm's only one): 2 outlooker blocks,
          2 transformer stages of 1 block, 2 class-attention blocks, aux head; 56x56 input, so
          the outlooker runs on a 7x7 grid (odd: ceil_mode pooling gives 4x4 cells, the last
          of one row/column) and the transformers on 3x3.
  volo_b  the official sail-sg/volo VOLO with out_stride=1 (pooling is the identity, 9x9
          windows on a 9x9 grid), qkv_bias, patch_size 4, per-stage mlp ratios, 1 class block.
  volo_c  the official VOLO with a 5x5 outlook window (out_kernel 5, out_padding 2, stride 2),
          patch_size 16, no class token (post_layers None), mean pooling and no aux head
          (return_mean; timm's global_pool='avg', use_aux_head=False).

Every weight is random (seed 0): LayerNorm and BatchNorm affine and statistics, biases,
pos_embed and cls_token, convolutions at He std and linear weights at std 1/sqrt(fan_in) so
activations keep their size and attention is far from uniform, heads scaled up so classes separate. Inputs: real photos from
../shared/data/imagenet-samples through timm's eval transform at the fixture's size.
volo_a and volo_b then get a short seeded fit (100 Adam steps on their input, CPU, seconds;
attention weights stay random) that gives each photo its own random class with a penalty on
the batch-common part of the features: the random nets put the logits within BF16 rounding of
each other, the fitted ones keep PyTorch's BF16 autocast within ~1e-2 rel-L2 of the F32 logits
with wide top-1 margins (tools/golden/bf16_baseline.py).
Writes tests/golden/volo_{a,b,c}.{weights,io}.safetensors; the weights carry seer.arch
volo_d1_224 and the fixture's config as metadata seer.config (timm's VOLO kwargs, JSON).

    /work/ref/venv/bin/python tools/golden/make_volo.py
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402

TIMM = "/work/ref/pytorch-image-models"
OFFICIAL = "/work/ref/volo"
FILES = ["n01755581_diamondback.JPEG", "n02110185_Siberian_husky.JPEG", "n03345487_fire_engine.JPEG"]


def timm_volo():
    sys.path.insert(0, TIMM)
    from timm.models.volo import VOLO
    return VOLO


def official_volo():
    sys.path.insert(0, TIMM)  # the official code imports timm layers
    sys.path.insert(0, OFFICIAL)
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    from models.volo import VOLO
    return VOLO


def randomize(model, head_scale=8.0):
    g = torch.Generator().manual_seed(0)

    def rn(t, mean=0.0, std=1.0):
        t.copy_(torch.randn(t.shape, generator=g) * std + mean)

    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.weight[0].numel()
                rn(m.weight, 0, (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    rn(m.bias, 0, 0.1)
            elif isinstance(m, torch.nn.BatchNorm2d):
                rn(m.running_mean, 0, 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)
                rn(m.weight, 1, 0.3)
                rn(m.bias, 0, 0.1)
            elif isinstance(m, torch.nn.LayerNorm):
                rn(m.weight, 1, 0.3)
                rn(m.bias, 0, 0.1)
            elif isinstance(m, torch.nn.Linear):
                scale = head_scale if name in ("head", "aux_head") else 1.0
                rn(m.weight, 0, scale / m.in_features ** 0.5)
                if m.bias is not None:
                    rn(m.bias, 0, 0.05)
        rn(model.pos_embed, 0, 0.2)
        if getattr(model, "cls_token", None) is not None:
            rn(model.cls_token, 0, 0.2)
    model.eval()
    return model


def fit(model, x, pool, seed=1):
    """bf16_fit.fit: each image of x its own random class, with a penalty on the batch-common
    part of the final norm's features (`pool`: "avg" mean over tokens, else the cls token);
    attention weights frozen."""
    from bf16_fit import batch_common, fit as fit_to
    got = {}
    hook = model.norm.register_forward_hook(lambda m, i, o: got.__setitem__("norm", o))

    def loss_of(m, x, target):
        logits = m(x)
        feats = got["norm"].mean(1) if pool == "avg" else got["norm"][:, 0]
        return torch.nn.functional.cross_entropy(logits, target) + batch_common(feats)

    fit_to(model, x, seed, model.head.out_features, ("attn.attn.", "attn.qkv.", "attn.q.", "attn.kv."),
           loss_of)
    hook.remove()
    return model


def inputs(data, size, crop_pct):
    sys.path.insert(0, TIMM)
    from timm.data import create_transform
    tf = create_transform(input_size=(3, size, size), interpolation="bicubic", crop_pct=crop_pct,
                          mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    xs = [tf(Image.open(os.path.join(data, "imagenet-samples", f)).convert("RGB")) for f in FILES]
    return torch.stack(xs)  # NCHW


def run(model, x, pool):
    """logits, outlooker-stage output (NHWC) and pre-logits features."""
    got = {}
    h1 = model.network[0].register_forward_hook(lambda m, i, o: got.__setitem__("stage0", o))
    h2 = model.norm.register_forward_hook(lambda m, i, o: got.__setitem__("norm", o))
    with torch.no_grad():
        logits = model(x)
    h1.remove()
    h2.remove()
    feats = got["norm"].mean(1) if pool == "avg" else got["norm"][:, 0]
    return logits, got["stage0"], feats


def write(out, name, model, config, x, logits, stage0, feats, size, crop_pct):
    sd = {k: v.numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    meta = {"seer.arch": "volo_d1_224", "seer.config": json.dumps(config),
            "seer.preprocess": f"imagenet_timm,crop_pct={crop_pct},size={size}"}
    seer_st.write_safetensors(os.path.join(out, f"{name}.weights.safetensors"), sd, meta)
    seer_st.write_safetensors(os.path.join(out, f"{name}.io.safetensors"),
                              {"input": x.permute(0, 2, 3, 1).contiguous().numpy(), "logits": logits.numpy(),
                               "stage0": stage0.contiguous().numpy(), "features": feats.numpy()},
                              {"files": ",".join(FILES), "torch": torch.__version__})
    print(f"{name}: logits {tuple(logits.shape)} stage0 {tuple(stage0.shape)} top-1 {logits.argmax(1).tolist()} "
          f"std over batch {(logits - logits.mean(0)).std().item():.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    torch.manual_seed(0)

    # A: timm, default outlook attention (kernel 3, padding 1, stride 2).
    cfg_a = dict(layers=[2, 1, 1], embed_dims=[16, 32, 32], num_heads=[2, 4, 4], img_size=56,
                 stem_hidden_dim=8, patch_size=8, mlp_ratio=3.0, post_layers=["ca", "ca"])
    x = inputs(args.data, 56, 0.96)
    model = fit(randomize(timm_volo()(**cfg_a)), x, "token")
    write(args.out, "volo_a", model, cfg_a, x, *run(model, x, "token"), 56, 0.96)

    OVOLO = official_volo()
    # B: official, outlook stride 1, qkv bias, patch 4, per-stage mlp ratios, one class block.
    kw_b = dict(layers=[1, 2, 1], embed_dims=[24, 48, 48], num_heads=[3, 4, 6], img_size=36,
                stem_hidden_dim=8, patch_size=4, mlp_ratios=[4, 2, 3], qkv_bias=True,
                downsamples=[True, False, False], outlook_attention=[True, False, False],
                post_layers=["ca"], return_dense=True, mix_token=False,
                out_kernel=3, out_stride=1, out_padding=1)
    cfg_b = dict(layers=[1, 2, 1], embed_dims=[24, 48, 48], num_heads=[3, 4, 6], img_size=36,
                 stem_hidden_dim=8, patch_size=4, mlp_ratio=[4, 2, 3], qkv_bias=True,
                 post_layers=["ca"], use_aux_head=True, out_kernel=3, out_stride=1, out_padding=1)
    x = inputs(args.data, 36, 1.0)
    model = fit(randomize(OVOLO(**kw_b)), x, "token")
    write(args.out, "volo_b", model, cfg_b, x, *run(model, x, "token"), 36, 1.0)

    # C: official, 5x5 window, patch 16, no class token, mean pooling, no aux head.
    kw_c = dict(layers=[1, 1], embed_dims=[16, 24], num_heads=[2, 3], img_size=80,
                stem_hidden_dim=8, patch_size=16, mlp_ratios=[3, 3],
                downsamples=[True, False], outlook_attention=[True, False],
                post_layers=None, return_mean=True, return_dense=False, mix_token=False,
                out_kernel=5, out_stride=2, out_padding=2)
    cfg_c = dict(layers=[1, 1], embed_dims=[16, 24], num_heads=[2, 3], img_size=80,
                 stem_hidden_dim=8, patch_size=16, mlp_ratio=3, post_layers=None,
                 global_pool="avg", use_aux_head=False, out_kernel=5, out_stride=2, out_padding=2)
    model = randomize(OVOLO(**kw_c))
    x = inputs(args.data, 80, 1.15)
    write(args.out, "volo_c", model, cfg_c, x, *run(model, x, "avg"), 80, 1.15)


if __name__ == "__main__":
    main()
