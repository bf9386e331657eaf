#!/usr/bin/python3
"""Golden fixture for the CIFAR ResNet: a ResNet-8 (one block per stage, every code path of the
family: identity and option-A shortcuts) with random weights and randomized BN statistics, run
on 4 real CIFAR-10 test images. Writes tests/golden/resnet8_cifar.{weights,io}.safetensors.

    /usr/bin/python3 tools/golden/make_resnet_cifar.py [--data ../shared/data]
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
from torch_ref.resnet_cifar import ResNetCifar  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    args = ap.parse_args()

    torch.manual_seed(0)
    model = ResNetCifar(depth=8)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_(1, 0.3)
                m.bias.normal_(0, 0.3)
        model.linear.weight.mul_(10)  # separate the classes (see REFERENCES.md)
    model.eval()

    files = ["airplane/0001.jpg", "cat/0002.jpg", "ship/0003.jpg", "truck/0004.jpg"]
    imgs = []
    for f in files:
        im = Image.open(os.path.join(args.data, "cifar10", "test", f)).convert("RGB")
        imgs.append((np.asarray(im, np.float32) / 255.0 - MEAN) / STD)
    x = np.stack(imgs)  # NHWC
    with torch.no_grad():
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        feats = model.features(xt)
        logits = model(xt)

    sd = {k: v.numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    os.makedirs(args.out, exist_ok=True)
    seer_st.write_safetensors(os.path.join(args.out, "resnet8_cifar.weights.safetensors"), sd,
                              {"seer.arch": "resnet8"})
    seer_st.write_safetensors(os.path.join(args.out, "resnet8_cifar.io.safetensors"),
                              {"input": x, "features": feats.numpy(), "logits": logits.numpy()},
                              {"files": ",".join(files), "torch": torch.__version__})
    print("logits[0]", logits[0].numpy().round(3))


if __name__ == "__main__":
    main()
