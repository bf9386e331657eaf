#!/usr/bin/env python3
"""Golden fixtures of the HaloNet family: three tiny networks built by timm's ByobNet from
ByoModelCfg configs (the machinery byoanet.py uses for halonet26t & co), random weights of a
fixed seed, run on real photos. Each fixture is the same network described twice: as a timm
ByoModelCfg here, and as a seer config string (backbones/halonet_cfg.c) in the weights file's
metadata seer.halonet_cfg, read on top of the preset named by seer.arch.

  a  (as halonet26t):   tiered stem + max pool, ReLU, SE, conv1x1 shortcuts, halo attention
                        (block 4, halo 1, 2 heads) at stride 1 and with strided queries;
                        inputs 128x128 and 64x192.
  b  (as eca_halonext26ts / haloregnetz_b): 3x3 stem without pool, SiLU, ECA (kernel 3 and 5),
                        grouped 3x3 convs, no shortcut where the shape changes (downsample=''),
                        bottle_in + linear_out, final 1x1 conv, halo block 3 (odd) with
                        qk_ratio, stride 2 through the 2x2 average pool; inputs 96x96 and 48x144.
  c  (as halo2botnet50ts_256 / halonet_h1): 7x7 stem + max pool, SiLU, halo-only first stage
                        with identity shortcuts, per-stage self-attention overrides (halo block 2
                        with halo 2 and dim_head, then BoTNet bottleneck attention at stride 2
                        and 1 on a fixed 8x8 / 4x4 map); input 64x64 (fixed size).

Every BatchNorm gets a random affine transform and statistics measured on the inputs (so no
branch is an identity or a constant), the last BatchNorm of each residual branch a gain 0.3,
the relative position tables are scaled up (so the position logits matter) and the head
weights are scaled up with the bias centering the logits on the inputs. Then a short seeded
fit (100 Adam steps on the first input batch, CPU, seconds; attention projections and
position tables stay random) gives each photo its own random class, with penalties on the
batch-common part of features and logits: random nets put the logits within BF16 rounding of
each other and amplify rounding with depth, the fitted ones keep PyTorch's BF16 autocast within
~1e-2 rel-L2 of the F32 logits with wide top-1 margins (tools/golden/bf16_baseline.py).

    /work/ref/venv/bin/python tools/golden/make_halonet.py [--data ../shared/data]

Writes tests/golden/halonet_{a,b,c}.{weights,io}.safetensors.
"""
import argparse
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
PHOTOS = ["n01498041_stingray.JPEG", "n02110185_Siberian_husky.JPEG",
          "n03345487_fire_engine.JPEG", "n07248320_book_jacket.JPEG"]


def fixtures():
    from timm.models.byobnet import ByoBlockCfg, ByoModelCfg, interleave_blocks
    a = ByoModelCfg(
        blocks=(
            ByoBlockCfg(type='bottle', d=1, c=32, s=1, gs=0, br=0.25),
            interleave_blocks(types=('bottle', 'self_attn'), d=2, c=48, s=2, gs=0, br=0.5),
            ByoBlockCfg(type='self_attn', d=2, c=64, s=2, gs=0, br=0.5),
        ),
        stem_chs=16, stem_type='tiered', stem_pool='maxpool',
        attn_layer='se', attn_kwargs=dict(rd_ratio=0.25),
        self_attn_layer='halo', self_attn_kwargs=dict(block_size=4, halo_size=1, num_heads=2),
    )
    a_str = ("stem=tiered:16:max act=relu attn=se:0.25 sa=halo:4:1:2:0:1 "
             "stages=B/32/1/0/0.25,BS/48/2/0/0.5,SS/64/2/0/0.5")
    b = ByoModelCfg(
        blocks=(
            ByoBlockCfg(type='bottle', d=2, c=32, s=2, gs=8, br=4),
            interleave_blocks(types=('bottle', 'self_attn'), d=2, c=32, s=2, gs=8, br=1),
            ByoBlockCfg(type='self_attn', d=2, c=48, s=2, gs=8, br=1.5),
        ),
        stem_chs=16, stem_type='3x3', stem_pool='', downsample='', num_features=64,
        act_layer='silu', attn_layer='eca', block_kwargs=dict(bottle_in=True, linear_out=True),
        self_attn_layer='halo',
        self_attn_kwargs=dict(block_size=3, halo_size=1, num_heads=2, qk_ratio=0.5),
    )
    b_str = ("stem=3x3:16 act=silu attn=eca down=none features=64 bottle_in=1 linear_out=1 "
             "sa=halo:3:1:2:0:0.5 stages=BB/32/2/8/4,BS/32/2/8/1,SS/48/2/8/1.5")
    c = ByoModelCfg(
        blocks=(
            ByoBlockCfg(type='self_attn', d=2, c=16, s=1, gs=0, br=1.0),
            interleave_blocks(
                types=('bottle', 'self_attn'), d=2, c=32, s=2, gs=0, br=0.5,
                self_attn_layer='halo',
                self_attn_kwargs=dict(block_size=2, halo_size=2, num_heads=2, dim_head=8)),
            ByoBlockCfg(type='self_attn', d=2, c=48, s=2, gs=0, br=0.5,
                        self_attn_layer='bottleneck', self_attn_kwargs=dict(num_heads=2)),
        ),
        stem_chs=16, stem_type='7x7', stem_pool='maxpool', act_layer='silu',
        self_attn_layer='halo', self_attn_kwargs=dict(block_size=4, halo_size=1, num_heads=4),
    )
    c_str = ("stem=7x7:16:max act=silu img=64 sa=halo:4:1:4:0:1 "
             "stages=SS/16/1/0/1,BS/32/2/0/0.5/halo:2:2:2:8:1,SS/48/2/0/0.5/bot:2:0:1")
    return [
        # name, cfg, seer cfg string, seer.arch, img_size, inputs (h, w, images), fit seed
        ("a", a, a_str, "halonet26t", None, [(128, 128, 4), (64, 192, 2)], 2),
        ("b", b, b_str, "eca_halonext26ts", None, [(96, 96, 4), (48, 144, 2)], 1),
        ("c", c, c_str, "halo2botnet50ts_256", 64, [(64, 64, 4)], 7),
    ]


def load_inputs(data, h, w, n):
    """The first n photos resized (bicubic, antialiased as PIL does) to cover h x w,
    center-cropped, normalized and rounded to float16 (stored as such to keep the fixture
    small; the reference runs on the rounded values); NHWC float32."""
    from PIL import Image
    xs = []
    for f in PHOTOS[:n]:
        im = Image.open(os.path.join(data, "imagenet-samples", f)).convert("RGB")
        s = max(h / im.height, w / im.width)
        rw, rh = max(w, round(im.width * s)), max(h, round(im.height * s))
        im = im.resize((rw, rh), Image.BICUBIC)
        top, left = (rh - h) // 2, (rw - w) // 2
        im = im.crop((left, top, left + w, top + h))
        x = np.asarray(im, np.float32) / 255.0
        xs.append((x - np.array(MEAN, np.float32)) / np.array(STD, np.float32))
    return np.stack(xs).astype(np.float16).astype(np.float32)


def randomize(model, calib, seed):
    import torch
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    branch_end = {id(b.conv3_1x1.bn) for b in model.modules()
                  if hasattr(b, "conv3_1x1") and getattr(b, "shortcut", None) is not None}
    with torch.no_grad():
        for m in bns:
            n = m.num_features
            m.weight.copy_(0.4 + 0.6 * torch.rand(n, generator=g))
            m.bias.copy_(0.3 * torch.randn(n, generator=g))
            if id(m) in branch_end:
                m.weight.mul_(0.3)  # residual branches start small, as in a trained net
            m.reset_running_stats()
            m.momentum = None
        model.train()
        model(calib)
        model.eval()
        for m in bns:
            # measured statistics, moved off the exact batch values (and no near-zero variance)
            m.running_mean.add_(0.1 * torch.randn(m.num_features, generator=g))
            m.running_var.mul_(0.8 + 0.4 * torch.rand(m.num_features, generator=g))
            m.running_var.add_(0.1 * m.running_var.mean() + 1e-2)  # no near-constant channel
            m.momentum = 0.1
        for name, p in model.named_parameters():
            if name.endswith("height_rel") or name.endswith("width_rel"):
                p.mul_(2.0)
        model.head.fc.weight.mul_(20.0)
        # center the logits on the calibration images: what is left depends on the image
        mean_feat = model.forward_head(model.forward_features(calib), pre_logits=True).mean(0)
        model.head.fc.bias.copy_(-model.head.fc.weight @ mean_feat
                                 + 0.1 * torch.randn(model.head.fc.bias.shape, generator=g))


def fit(model, x, seed):
    """bf16_fit.fit: each image of x its own random class, with penalties on the batch-common
    part of the pooled features and logits; attention projections and position tables frozen."""
    import torch
    from bf16_fit import batch_common, fit as fit_to

    def loss_of(m, x, target):
        f = m.forward_head(m.forward_features(x), pre_logits=True)
        logits = m.head.fc(f)
        return (torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.1)
                + batch_common(f) + batch_common(logits))

    fit_to(model, x, seed, model.head.fc.out_features, ("self_attn.q", "self_attn.kv", "pos_embed"),
           loss_of)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    ap.add_argument("--timm", default="/work/ref/pytorch-image-models")
    args = ap.parse_args()
    sys.path.insert(0, args.timm)
    import torch
    from timm.models.byobnet import ByobNet

    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    for i, (name, cfg, cfg_str, arch, img_size, sizes, fit_seed) in enumerate(fixtures()):
        torch.manual_seed(i)
        model = ByobNet(cfg, num_classes=1000, img_size=img_size)
        inputs = [load_inputs(args.data, h, w, n) for h, w, n in sizes]
        calib = torch.from_numpy(inputs[0]).permute(0, 3, 1, 2).contiguous()
        randomize(model, calib, seed=100 + i)
        fit(model, calib, fit_seed)
        io = {}
        meta = {"files": ",".join(PHOTOS), "torch": torch.__version__}
        for j, x in enumerate(inputs):
            xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
            with torch.no_grad():
                feats = model.forward_head(model.forward_features(xt), pre_logits=True)
                logits = model(xt)
                logits64 = model.double()(xt.double()).float()
                model.float()
            cond = float(torch.linalg.norm(logits - logits64) / torch.linalg.norm(logits64))
            sfx = "" if j == 0 else f"_{j}"
            io[f"input{sfx}"] = x.astype(np.float16)
            io[f"logits{sfx}"] = logits.numpy()
            io[f"features{sfx}"] = feats.numpy()
            spread = float(torch.linalg.norm(logits - logits.mean(0)) / torch.linalg.norm(logits))
            print(f"{name} {tuple(x.shape)}: logits f32 vs f64 rel-L2 {cond:.2e}, "
                  f"image-dependent share {spread:.2f}, top-1 {logits.argmax(1).tolist()}")
        sd = {k: v.numpy() for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")}
        seer_st.write_safetensors(os.path.join(args.out, f"halonet_{name}.weights.safetensors"), sd,
                                  {"seer.arch": arch, "seer.halonet_cfg": cfg_str})
        seer_st.write_safetensors(os.path.join(args.out, f"halonet_{name}.io.safetensors"), io, meta)
        n = sum(v.size for v in sd.values())
        print(f"{name}: {len(sd)} tensors, {n:,} values, config: {cfg_str}")


if __name__ == "__main__":
    main()
