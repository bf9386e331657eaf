#!/usr/bin/env python3
"""How well an ENAT file predicts masked tokens of training images against test images: the
masked-token cross-entropy (nats) at a few masking ratios, the same random masks for both sets.
A gap at a ratio means the model fits the training grids there better than it generalises
(more capacity would mostly memorise); no gap means it is not over-fitting at that ratio.

    /usr/bin/python3 tools/train/enat_heldout.py assets/models/enat_cifar.safetensors
        [--tokenizer assets/models/vq_cifar.safetensors] [--n 5000] [--ratios 0.25 0.5 0.75 0.95]

The images are --n of each pack (the same random choice every run), tokenized with the file's
tokenizer as training does (not mirrored); labels are the images' classes (no guidance).
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from cifar_data import load_cifar  # noqa: E402
from torch_ref import enat, vqgan  # noqa: E402
from train_enat import tokenize  # noqa: E402


def token_grids(tok, pack, n):
    images, labels = load_cifar(pack, torch.device("cpu"))
    keep = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(0))[:n]
    return tokenize(tok, images[keep], mirror=False), labels[keep]


@torch.no_grad()
def masked_ce(model, ids, labels, ratio, batch=500):
    """Mean over images of the mean cross-entropy of their masked tokens."""
    gen = torch.Generator().manual_seed(1)
    total = 0.0
    for i in range(0, ids.shape[0], batch):
        x, y = ids[i:i + batch], labels[i:i + batch]
        masking = enat.sample_masking(x.shape[0], x.shape[1], "cpu", ratio, generator=gen)
        logits = model(torch.where(masking, torch.full_like(x, model.V), x), y)["logits"]
        ce = F.cross_entropy(logits.transpose(1, 2), x, reduction="none")  # [B, L]
        total += float(((ce * masking).sum(1) / masking.sum(1)).sum())
    return total / ids.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights")
    ap.add_argument("--tokenizer", default="assets/models/vq_cifar.safetensors")
    ap.add_argument("--train-pack", default=".data/cifar10-train.pack")
    ap.add_argument("--test-pack", default=".data/cifar10-test.pack")
    ap.add_argument("--n", type=int, default=5000, help="images of each pack")
    ap.add_argument("--ratios", type=float, nargs="+", default=[0.25, 0.5, 0.75, 0.95])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = vqgan.from_seer_file(a.tokenizer)[0].eval()
    model = enat.from_seer_file(a.weights)[0]
    rows = {}
    for name, pack in (("train", a.train_pack), ("test", a.test_pack)):
        ids, labels = token_grids(tok, pack, a.n)
        rows[name] = [masked_ce(model, ids, labels, r) for r in a.ratios]
    print(f"masked-token cross-entropy (nats) of {a.weights}, {a.n} images of each set")
    print("ratio   " + "".join(f"{r:>9.2f}" for r in a.ratios))
    for name, ce in rows.items():
        print(f"{name:<8}" + "".join(f"{v:>9.4f}" for v in ce))
    print("gap     " + "".join(f"{b - t:>9.4f}" for t, b in zip(rows["train"], rows["test"])))


if __name__ == "__main__":
    main()
