#!/work/ref/venv/bin/python
"""Parity of tools/torch_ref/halonet.py with timm's ByobNet (byobnet.py + halo_attn.py +
bottleneck_attn.py) and with seer's backbones/halonet*.c.

(a) timm vs torch_ref with the same random weights (BatchNorm affine random and statistics
    measured on the images, position tables scaled up, head scaled up and centered), eval and
    train mode (BatchNorm on batch statistics), on CIFAR test images (bicubic-upsampled where a
    config needs a larger input): the CIFAR config; the three golden-fixture configs of
    tools/golden/make_halonet.py (tiered stem + SE + strided halo; ECA, grouped convs, no
    shortcut, odd block 3 with the average-pool downsample; 7x7 stem, per-stage overrides,
    BoTNet attention); and timm's registered halonet26t and halo2botnet50ts_256 built from the
    presets' seer config strings (backbones/halonet.c).
(b) the CIFAR model (random weights, heads scaled up) exported with cifar_metadata() and run by
    `seer classify --weights ... --logits ...` on 16 CIFAR test JPEGs vs torch_ref on the same
    PIL-decoded pixels.

    /work/ref/venv/bin/python tools/torch_ref/check_halonet.py [--seer build-h1/seer]
"""
import argparse
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import halonet as ref  # noqa: E402
from check_volo import TOL, cifar_files, load_images, rel, root, seer_parity  # noqa: E402

# golden fixtures a, b, c (tools/golden/make_halonet.py) and two presets (backbones/halonet.c)
FIXTURE_A = ("stem=tiered:16:max act=relu attn=se:0.25 sa=halo:4:1:2:0:1 "
             "stages=B/32/1/0/0.25,BS/48/2/0/0.5,SS/64/2/0/0.5")
FIXTURE_B = ("stem=3x3:16 act=silu attn=eca down=none features=64 bottle_in=1 linear_out=1 "
             "sa=halo:3:1:2:0:0.5 stages=BB/32/2/8/4,BS/32/2/8/1,SS/48/2/8/1.5")
FIXTURE_C = ("stem=7x7:16:max act=silu img=64 sa=halo:4:1:4:0:1 "
             "stages=SS/16/1/0/1,BS/32/2/0/0.5/halo:2:2:2:8:1,SS/48/2/0/0.5/bot:2:0:1")
HALONET26T = ("stem=tiered:64:max act=relu sa=halo:8:2:8:0:1 "
              "stages=BB/256/1/0/0.25,BB/512/2/0/0.25,BS/1024/2/0/0.25,SS/2048/2/0/0.25")
HALO2BOTNET = ("stem=tiered:64 act=silu img=256 "
               "stages=BBB/256/1/0/0.25,BSBS/512/2/0/0.25/halo:8:3:8:0:1,"
               "BSBSBS/1024/2/0/0.25/halo:8:3:8:0:1,BSB/2048/2/0/0.25/bot:4:0:1")


def timm_cfg(cfg):
    """A parsed seer config -> timm's ByoModelCfg."""
    from timm.models.byobnet import ByoBlockCfg, ByoModelCfg

    def sa_layer(sa):
        if sa is None:
            return None, {}
        if sa["type"] == "halo":
            return "halo", dict(block_size=sa["block_size"], halo_size=sa["halo_size"],
                                num_heads=sa["num_heads"], dim_head=sa["dim_head"] or None,
                                qk_ratio=sa["qk_ratio"])
        return "bottleneck", dict(num_heads=sa["num_heads"], dim_head=sa["dim_head"] or None,
                                  qk_ratio=sa["qk_ratio"])

    blocks = []
    for st in cfg["stages"]:
        extra = {}
        if st["own_sa"]:
            layer, kw = sa_layer(st["sa"])
            extra = dict(self_attn_layer=layer or "", self_attn_kwargs=kw)
        blocks.append(tuple(
            ByoBlockCfg(type="bottle" if t == "B" else "self_attn", d=1, c=st["c"], s=st["s"],
                        gs=st["gs"], br=st["br"], **extra) for t in st["types"]))
    sa, sa_kw = sa_layer(cfg["sa"])
    attn = None if cfg["attn"] == "none" else cfg["attn"]
    return ByoModelCfg(
        blocks=tuple(blocks), stem_chs=cfg["stem_chs"], stem_type=cfg["stem_type"],
        stem_pool="maxpool" if cfg["stem_pool"] else "",
        downsample="conv1x1" if cfg["downsample"] else "", num_features=cfg["num_features"],
        act_layer=cfg["act"], attn_layer=attn,
        attn_kwargs=dict(rd_ratio=cfg["se_rd_ratio"]) if attn == "se" else {},
        self_attn_layer=sa, self_attn_kwargs=sa_kw,
        block_kwargs=dict(bottle_in=cfg["bottle_in"], linear_out=cfg["linear_out"]))


def randomize(model, calib, seed=0):
    """BatchNorm affine random with statistics measured on calib (then moved off them), position
    tables x2, head x20 with the bias centering the logits on calib."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.copy_(0.4 + 0.6 * torch.rand(m.num_features, generator=g))
            m.bias.copy_(0.3 * torch.randn(m.num_features, generator=g))
            m.reset_running_stats()
            m.momentum = None
        model.train()
        model(calib)
        model.eval()
        for m in bns:
            m.running_mean.add_(0.1 * torch.randn(m.num_features, generator=g))
            m.running_var.mul_(0.8 + 0.4 * torch.rand(m.num_features, generator=g))
            m.running_var.add_(0.1 * m.running_var.mean() + 1e-2)
            m.momentum = 0.1
        for name, p in model.named_parameters():
            if name.endswith(("height_rel", "width_rel")):
                p.mul_(2.0)
        fc = model.head.fc
        fc.weight.mul_(20.0)
        feat = model.forward_features(calib).mean((2, 3)).mean(0)
        fc.bias.copy_(-fc.weight @ feat + 0.1 * torch.randn(fc.bias.shape, generator=g))
    return model


def compare(tag, theirs, ours, x, failures):
    theirs.load_state_dict(ours.state_dict(), strict=True)  # ours carries the random weights
    for mode in ("eval", "train"):
        theirs.train(mode == "train")
        ours.train(mode == "train")
        with torch.no_grad():
            want, got = theirs(x), ours(x)
        r, mx = rel(got, want)
        rc, _ = rel(got - got.mean(0), want - want.mean(0))
        ok = r <= TOL and rc <= 10 * TOL
        print(f"  {tag:40s} {mode:5s}: logits {tuple(got.shape)} rel-L2 {r:.2e} max-abs {mx:.2e}"
              f" (max |ref| {want.abs().max():.2f}); minus batch mean rel-L2 {rc:.2e}"
              f"  {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(f"{tag} {mode}")


def config_case(tag, text, size, files, failures, num_classes=10):
    from timm.models.byobnet import ByobNet
    cfg = ref.parse_config(text)
    x = load_images(files, size)
    torch.manual_seed(0)
    ours = randomize(ref.HaloNet(cfg, num_classes=num_classes, img_size=size), x)
    theirs = ByobNet(timm_cfg(cfg), num_classes=num_classes, img_size=size)
    compare(tag, theirs, ours, x, failures)


def preset_case(name, text, size, files, failures):
    import timm
    x = load_images(files, size)
    torch.manual_seed(0)
    ours = randomize(ref.HaloNet(text, num_classes=1000, img_size=size), x)
    theirs = timm.create_model(name, pretrained=False)
    compare(f"timm.create_model('{name}')", theirs, ours, x, failures)


def part_a(files, failures, presets=True):
    print("(a) timm vs torch_ref, CIFAR test images")
    config_case("CIFAR config, 32x32", ref.CIFAR_CONFIG, 32, files, failures)
    config_case("fixture a (tiered, SE, strided halo), 64", FIXTURE_A, 64, files, failures)
    config_case("fixture b (ECA, groups, pool halo), 48", FIXTURE_B, 48, files, failures)
    config_case("fixture c (7x7, overrides, BoT), 64", FIXTURE_C, 64, files, failures)
    if presets:
        preset_case("halonet26t", HALONET26T, 256, files[:4], failures)
        preset_case("halo2botnet50ts_256", HALO2BOTNET, 256, files[:4], failures)


def part_b(seer, files, failures):
    print(f"(b) torch_ref vs seer ({seer}), CIFAR model, {len(files)} CIFAR test JPEGs")
    x = load_images(files)
    torch.manual_seed(1)
    model = randomize(ref.build_cifar(), x, seed=1).eval()
    with torch.no_grad():
        want = model(x)
    seer_parity(seer, model, want, ref.cifar_metadata(), files, failures)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seer", default=os.path.join(root, "build-h1", "seer"))
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--skip-presets", action="store_true", help="(a) without the 256x256 presets")
    args = ap.parse_args()
    torch.set_num_threads(2)
    files = cifar_files(args.images)
    failures = []
    part_a(files, failures, presets=not args.skip_presets)
    part_b(args.seer, files, failures)
    print("PASS" if not failures else "FAIL: " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
