#!/usr/bin/env python3
"""Score sampler settings of an exported seer ENAT file (GPU or CPU): for every combination of
the given steps, guidance, sampling and mask temperatures, PER_CLASS images per class are
generated with seer's sampler (tools/torch_ref/enat.py generate), decoded by the tokenizer,
rounded to 8 bits and scored by the pretrained ResNet-56: top-1 of the prompted class and the
Frechet distance of its 64-dim features to the images of --pack (the test set by default).
One JSON line per setting on stdout. It chooses nothing itself. Against the training images
(--pack .data/cifar10-train.pack), as the training script's sweep scores, it is how a file's
defaults are chosen after training (the shipped enat_cifar's guidance and temperatures, README); against
the test set it shows how far a sampler change could move the measured numbers.

    tools/train/sweep_enat.py --weights W --tokenizer T --steps 8 16 --cfg 0 3 --samp-temp 1 3

--guide FILE adds autoguidance by that (weaker) ENAT at each of --guide-w (default 0 = off).
"""
import argparse
import itertools
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from cifar_data import load_cifar  # noqa: E402
from torch_ref import enat, vqgan  # noqa: E402
from train_enat import sweep  # noqa: E402
from train_tokenizer import find_resnet, load_resnet56  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--resnet", default=None)
    ap.add_argument("--pack", default=".data/cifar10-test.pack")
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, nargs="+", default=[8])
    ap.add_argument("--cfg", type=float, nargs="+", default=[3.0])
    ap.add_argument("--samp-temp", type=float, nargs="+", default=[3.0])
    ap.add_argument("--mask-temp", type=float, nargs="+", default=[1.5])
    ap.add_argument("--guide", default=None, help="a weaker ENAT file guiding the sampler")
    ap.add_argument("--guide-w", type=float, nargs="+", default=[0.0])
    a = ap.parse_args()
    dev = torch.device(a.device)
    model, _ = enat.from_seer_file(a.weights, device=dev)
    tok, _ = vqgan.from_seer_file(a.tokenizer, dev)
    resnet = load_resnet56(find_resnet(a.resnet), dev)
    images, _ = load_cifar(a.pack, dev)
    if a.guide_w != [0.0] and not a.guide:
        ap.error("--guide-w needs --guide FILE")
    guide = enat.from_seer_file(a.guide, device=dev)[0].eval() if a.guide else None
    settings = [{"steps": s, "cfg": c, "samp_temp": t, "mask_temp": m, "guide_w": w}
                for s, c, t, m, w in itertools.product(a.steps, a.cfg, a.samp_temp, a.mask_temp, a.guide_w)]
    _, table = sweep(model, tok, resnet, images, settings, a.per_class, dev, guide)
    for row in table:
        print(json.dumps({"weights": os.path.basename(a.weights), **row}), flush=True)


if __name__ == "__main__":
    main()
