#!/usr/bin/python3
"""Golden fixture for the FID Inception-v3 (backbones/inception_fid.c): the reference definition
(tools/torch_ref/inception_fid.py) at width_div 16 (every block type, ~220k weights) with random
weights and BatchNorm statistics, run on 2 real photos at 75x75 (square, resized to 299 inside
the model as pytorch-fid does) and 1 at 96x128 (non-square: squashed to 299x299).
Writes tests/golden/inception_fid_w16.{weights,io}.safetensors.

    /usr/bin/python3 tools/golden/make_inception_fid.py [--data ../shared/data]

BN statistics: the running variances are set from a calibration batch (so activations stay
O(1) through 47 layers instead of vanishing or exploding) and perturbed; the running means are
small random values. Subtracting the calibrated means instead standardizes every layer of a
random network, where images differ little against the common mode: float32 round-off then
grows ~50x (to ~5e-6 rel-L2 in PyTorch itself), too close to the 1e-5 tolerance. Seed and
ranges were picked for a low round-off floor (~3e-7) with features that still differ by image,
and (seed 7) for BF16: PyTorch's BF16 autocast stays within 7e-3 rel-L2 of the logits with
top-1 margins over 10x its largest logit error (tools/golden/bf16_baseline.py).
"""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402
from torch_ref.inception_fid import InceptionFID  # noqa: E402

WIDTH_DIV = 16
PHOTOS = ["n01498041_stingray.JPEG", "n02110185_Siberian_husky.JPEG", "n03345487_fire_engine.JPEG"]


def load(path, size):
    im = Image.open(path).convert("RGB").resize(size, Image.BILINEAR)
    return np.asarray(im, np.float32) / 255.0  # [H, W, 3] in [0, 1]


def check_layout():
    """At full width our key names and shapes are torchvision's Inception3 without AuxLogits,
    which is the layout of pt_inception-2015-12-05-6726825d.pth."""
    try:
        import torchvision
    except ImportError:
        return
    ours = {k: tuple(v.shape) for k, v in InceptionFID().state_dict().items()}
    tv = torchvision.models.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    theirs = {k: tuple(v.shape) for k, v in tv.state_dict().items()}
    assert ours == theirs, set(ours) ^ set(theirs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    args = ap.parse_args()
    check_layout()

    torch.manual_seed(7)
    model = InceptionFID(width_div=WIDTH_DIV)
    samples = os.path.join(args.data, "imagenet-samples")
    xa = np.stack([load(os.path.join(samples, p), (75, 75)) for p in PHOTOS[:2]])  # [2, 75, 75, 3]
    xb = load(os.path.join(samples, PHOTOS[2]), (128, 96))[None]                   # [1, 96, 128, 3]
    to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()  # noqa: E731

    # Calibrate BN on other inputs (noise plus the photos flipped), then perturb.
    calib = torch.cat([torch.rand(4, 3, 75, 75), to_t(xa).flip(3)])
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model.features(calib)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.5, 2.0))
                m.running_mean.normal_(0, 1).mul_(0.2 * m.running_var.sqrt())
                m.weight.normal_(1, 0.2)
                m.bias.normal_(0, 0.2)
        model.fc.weight.mul_(10)  # separate the classes (see REFERENCES.md)
    model.eval()

    # The expected outputs come from the reference run in float64: a random 47-layer network
    # has float32 round-off of several 1e-6 (printed below), so a float32 reference would put
    # its own noise next to ours within the 1e-5 tolerance.
    with torch.no_grad():
        f32 = [model.features(to_t(x)) for x in (xa, xb)]
        model.double()
        fa, fb = (model.features(to_t(x).double()) for x in (xa, xb))
        la, lb = (model(to_t(x).double()) for x in (xa, xb))
        model.float()
    noise = {}
    for name, f, g in (("a", f32[0], fa), ("b", f32[1], fb)):
        noise[name] = ((f.double() - g).norm() / g.norm()).item()
        print(f"features_{name}: norm {g.norm(dim=1).numpy().round(3)}, image-dependent part "
              f"{(g - g.mean(0)).norm().item():.3f}, zeros {(g == 0).float().mean():.2f}, "
              f"torch float32 vs float64 rel-L2 {noise[name]:.1e}")
    fa, fb, la, lb = (t.float() for t in (fa, fb, la, lb))

    sd = {k: v.numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    os.makedirs(args.out, exist_ok=True)
    seer_st.write_safetensors(os.path.join(args.out, "inception_fid_w16.weights.safetensors"), sd,
                              {"seer.arch": "inception_v3_fid", "seer.width_div": str(WIDTH_DIV)})
    seer_st.write_safetensors(os.path.join(args.out, "inception_fid_w16.io.safetensors"),
                              {"input_a": xa, "features_a": fa.numpy(), "logits_a": la.numpy(),
                               "input_b": xb, "features_b": fb.numpy(), "logits_b": lb.numpy()},
                              {"files": ",".join(PHOTOS), "torch": torch.__version__,
                               "reference": "float64 run of tools/torch_ref/inception_fid.py",
                               "torch_f32_rel_l2_a": f"{noise['a']:.2e}",
                               "torch_f32_rel_l2_b": f"{noise['b']:.2e}"})
    print("logits_a[0][:5]", la[0, :5].numpy().round(3))


if __name__ == "__main__":
    main()
