#!/work/ref/venv/bin/python
"""Parity of tools/torch_ref/volo.py with timm's VOLO and with seer's backbones/volo.c.

(a) timm (the venv's) vs torch_ref at small configs and at the CIFAR config, same random weights
    (non-trivial BatchNorm statistics, linear weights at 1/sqrt(fan_in)), CIFAR test images:
    eval and train mode (BatchNorm on batch statistics; drop path off). timm cannot build
    patch_size 2 (it asserts 4, 8 or 16): for those configs it builds patch_size 4 at twice the
    image size (same position-embedding grid) and swaps its 2x2 patch projection for the 1x1
    one, which is exactly what patch_size 2 means (kernel = stride = patch_size / 2).
(b) the CIFAR model (random weights, heads scaled up) exported with cifar_metadata() and run by
    `seer classify --weights ... --logits ...` on 16 CIFAR test JPEGs vs torch_ref on the same
    PIL-decoded pixels.
--fixture writes tests/golden/volo_d.{weights,io}.safetensors (a tiny patch-2 model made by
torch_ref, checked against timm first) for tests/test_volo.c.

    /work/ref/venv/bin/python tools/torch_ref/check_volo.py [--seer build-h1/seer] [--fixture]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, here)
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
import volo as ref  # noqa: E402
from export import export_seer  # noqa: E402

DATA = os.path.join(root, "..", "shared", "data", "cifar10", "test")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
TOL = 1e-5  # relative L2, f32


def cifar_files(n):
    classes = sorted(os.listdir(DATA))
    per = -(-n // len(classes))
    files = [os.path.join(DATA, c, f) for c in classes
             for f in sorted(os.listdir(os.path.join(DATA, c)))[:per]]
    return files[:n]


def load_images(files, size=32):
    """PIL decode (RGB), optional bicubic resize, ImageNet normalization -> NCHW float32."""
    xs = []
    for f in files:
        im = Image.open(f).convert("RGB")
        if im.size != (size, size):
            im = im.resize((size, size), Image.BICUBIC)
        xs.append((np.asarray(im, np.float32) / 255.0 - MEAN) / STD)
    return torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()


def randomize(model, seed=0, head_scale=8.0):
    """Weights that make every part matter: BN statistics and affine, LayerNorm affine, biases,
    pos_embed / cls_token random; linears at 1/sqrt(fan_in), heads scaled up."""
    g = torch.Generator().manual_seed(seed)

    def rn(t, mean=0.0, std=1.0):
        t.copy_(torch.randn(t.shape, generator=g) * std + mean)

    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                rn(m.weight, 0, (2.0 / m.weight[0].numel()) ** 0.5)
                if m.bias is not None:
                    rn(m.bias, 0, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                rn(m.running_mean, 0, 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)
                rn(m.weight, 1, 0.3)
                rn(m.bias, 0, 0.1)
            elif isinstance(m, nn.LayerNorm):
                rn(m.weight, 1, 0.3)
                rn(m.bias, 0, 0.1)
            elif isinstance(m, nn.Linear):
                scale = head_scale if name in ("head", "aux_head") else 1.0
                rn(m.weight, 0, scale / m.in_features ** 0.5)
                if m.bias is not None:
                    rn(m.bias, 0, 0.05)
        rn(model.pos_embed, 0, 0.2)
        if getattr(model, "cls_token", None) is not None:
            rn(model.cls_token, 0, 0.2)
    return model


def timm_volo(cfg):
    """timm's VOLO for a torch_ref config (patch_size 2: see the module docstring)."""
    from timm.models.volo import VOLO
    kw = {k: v for k, v in cfg.items() if k not in ("out_kernel", "out_stride", "out_padding")}
    n = len(cfg["layers"])
    kw["downsamples"] = [True] + [False] * (n - 1)
    kw["outlook_attention"] = [True] + [False] * (n - 1)
    if cfg.get("post_layers") is not None:
        kw["post_layers"] = tuple(cfg["post_layers"])
    if cfg["patch_size"] != 2:
        return VOLO(**kw)
    kw.update(patch_size=4, img_size=2 * cfg["img_size"])
    m = VOLO(**kw)
    hid, dim = cfg["stem_hidden_dim"], cfg["embed_dims"][0]
    m.patch_embed.proj = nn.Conv2d(hid, dim, 1, 1)
    return m


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item(), (a - b).abs().max().item()


def compare(tag, cfg, x, failures):
    """timm vs torch_ref on x, eval and train mode."""
    torch.manual_seed(0)
    theirs = randomize(timm_volo(cfg))
    ours = ref.VOLO(**cfg)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    for mode in ("eval", "train"):
        theirs.train(mode == "train")
        ours.train(mode == "train")
        with torch.no_grad():
            want, got = theirs(x), ours(x)
        r, mx = rel(got, want)
        rc, _ = rel(got - got.mean(0), want - want.mean(0))
        ok = r <= TOL and rc <= 10 * TOL
        print(f"  {tag:34s} {mode:5s}: logits {tuple(got.shape)} rel-L2 {r:.2e} max-abs {mx:.2e}"
              f" (max |ref| {want.abs().max():.2f}); minus batch mean rel-L2 {rc:.2e}"
              f"  {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(f"{tag} {mode}")
    ours.eval()
    return ours


SMALL = dict(  # timm's defaults: outlook 3x3 stride 2, two class blocks, aux head
    layers=[2, 1, 1], embed_dims=[16, 32, 32], num_heads=[2, 4, 4], img_size=32,
    stem_hidden_dim=8, patch_size=4, mlp_ratio=3.0, post_layers=["ca", "ca"], num_classes=10)
ODD = dict(  # 56x56, patch 8: a 7x7 outlooker grid (ceil-mode cells), qkv bias, mean pooling
    layers=[1, 2], embed_dims=[24, 48], num_heads=[3, 4], img_size=56, stem_hidden_dim=8,
    patch_size=8, mlp_ratio=[4.0, 2.0], qkv_bias=True, post_layers=None, use_aux_head=False,
    global_pool="avg", num_classes=10)
FIXTURE = dict(  # tests/golden/volo_d: patch 2 on 32x32, one class block
    layers=[1, 1, 1], embed_dims=[16, 32, 32], num_heads=[2, 4, 4], img_size=32,
    stem_hidden_dim=8, patch_size=2, mlp_ratio=3.0, post_layers=["ca"], num_classes=1000)


def part_a(files, failures):
    print("(a) timm vs torch_ref, CIFAR test images")
    x32, x56 = load_images(files), load_images(files, 56)
    compare("small, patch 4 (8x8 grid)", SMALL, x32, failures)
    compare("56x56 patch 8 (odd 7x7 grid), avg", ODD, x56, failures)
    compare("fixture config (patch 2)", FIXTURE, x32, failures)
    compare("CIFAR config (patch 2, 16x16 grid)", ref.CIFAR_CONFIG, x32, failures)


def run_seer(seer, weights, files, workdir):
    out = os.path.join(workdir, "logits.safetensors")
    cmd = [seer, "classify", "--weights", weights, "--logits", out, "--format", "csv",
           "--output", os.path.join(workdir, "top.csv"), "--threads", "2"] + files
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    sd, meta = seer_st.read_safetensors(out)
    order = {os.path.realpath(f): i for i, f in enumerate(json.loads(meta["files"]))}
    return torch.from_numpy(sd["logits"][[order[os.path.realpath(f)] for f in files]])


def part_b(seer, files, failures):
    print(f"(b) torch_ref vs seer ({seer}), CIFAR model, {len(files)} CIFAR test JPEGs")
    model = randomize(ref.build_cifar(), seed=1).eval()
    x = load_images(files)
    with torch.no_grad():
        model.head.bias -= model(x).mean(0)  # center the logits: top-1 depends on the image
        want = model(x)
    seer_parity(seer, model, want, ref.cifar_metadata(), files, failures)


def seer_parity(seer, model, want, meta, files, failures):
    """seer's logits for the exported `model` against `want`, first with the full metadata,
    then with seer.arch alone (the C preset must be the same model)."""
    for tag, md in (("cifar_metadata()", meta),
                    ("seer.arch only", {"seer.arch": meta["seer.arch"]})):
        with tempfile.TemporaryDirectory() as d:
            w = os.path.join(d, meta["seer.arch"] + ".safetensors")
            export_seer(model, w, md)
            got = run_seer(seer, w, files, d)
        r, mx = rel(got, want)
        rc, _ = rel(got - got.mean(0), want - want.mean(0))
        top1 = (got.argmax(1) == want.argmax(1)).float().mean().item()
        ok = r <= 1e-4 and rc <= 1e-4 and top1 == 1.0
        print(f"  {tag:16s}: logits rel-L2 {r:.2e} max-abs {mx:.2e} (max |ref| "
              f"{want.abs().max():.2f}); minus batch mean rel-L2 {rc:.2e}; top-1 agreement "
              f"{top1:.0%}; distinct top-1 classes {len(set(want.argmax(1).tolist()))}  "
              f"{'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(f"seer parity ({tag})")


def write_fixture(files, failures):
    """tests/golden/volo_d from torch_ref (equal to timm, checked just before)."""
    torch.manual_seed(0)
    model = randomize(timm_volo(FIXTURE))
    ours = ref.VOLO(**FIXTURE)
    ours.load_state_dict(model.state_dict())
    ours.eval()
    x = load_images(files[:3])
    with torch.no_grad():
        stage0 = ours.network[0](ours.patch_embed(x).permute(0, 2, 3, 1))
        feats = ours.forward_features(x)[:, 0]
        logits = ours(x)
        want = model.eval()(x)
    r, _ = rel(logits, want)
    if r > TOL:
        failures.append("fixture vs timm")
    out = os.path.join(root, "tests", "golden")
    sd = {k: v.numpy() for k, v in ours.state_dict().items()
          if not k.endswith("num_batches_tracked")}
    cfg = {k: v for k, v in FIXTURE.items() if k != "num_classes"}
    seer_st.write_safetensors(os.path.join(out, "volo_d.weights.safetensors"), sd,
                              {"seer.arch": "volo_d1_224", "seer.config": json.dumps(cfg),
                               "seer.preprocess": "cifar"})
    seer_st.write_safetensors(os.path.join(out, "volo_d.io.safetensors"),
                              {"input": x.permute(0, 2, 3, 1).contiguous().numpy(),
                               "logits": logits.numpy(), "stage0": stage0.contiguous().numpy(),
                               "features": feats.numpy()},
                              {"files": ",".join(os.path.relpath(f, DATA) for f in files[:3]),
                               "torch": torch.__version__})
    print(f"wrote tests/golden/volo_d.*: stage0 {tuple(stage0.shape)}, logits "
          f"{tuple(logits.shape)}, torch_ref vs timm rel-L2 {r:.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seer", default=os.path.join(root, "build-h1", "seer"))
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--fixture", action="store_true", help="also write tests/golden/volo_d.*")
    args = ap.parse_args()
    torch.set_num_threads(2)
    files = cifar_files(args.images)
    failures = []
    part_a(files, failures)
    part_b(args.seer, files, failures)
    if args.fixture:
        write_fixture(files, failures)
    print("PASS" if not failures else "FAIL: " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
