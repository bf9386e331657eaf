#!/usr/bin/python3
"""Top-1 of a pretrained CIFAR ResNet in PyTorch on the JPEG test images, image for image, to
hold `seer eval top1` against. Decodes with PIL (as seer matches), normalizes with ImageNet
mean/std, runs tools/torch_ref/resnet_cifar.py with the official .th weights.

    /usr/bin/python3 tools/eval_cifar_torch.py WEIGHTS.th DEPTH DATA_DIR [--compare SEER.jsonl]
              [--time]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ref.resnet_cifar import ResNetCifar  # noqa: E402

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("depth", type=int)
    ap.add_argument("data")
    ap.add_argument("--compare", help="seer eval top1 --output jsonl to compare image by image")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = ResNetCifar(args.depth)
    sd = torch.load(args.weights, map_location="cpu")
    sd = sd.get("state_dict", sd)
    model.load_state_dict({k.replace("module.", "", 1): v for k, v in sd.items()})
    model.eval()

    files = []
    for ci, c in enumerate(CLASSES):
        d = os.path.join(args.data, c)
        files += [(os.path.join(d, f), ci) for f in sorted(os.listdir(d))]
    files.sort()
    preds = {}
    t_model = 0.0
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, len(files), args.batch):
            chunk = files[i:i + args.batch]
            x = np.stack([(np.asarray(Image.open(p).convert("RGB"), np.float32) / 255 - MEAN) / STD
                          for p, _ in chunk])
            xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
            t1 = time.time()
            logits = model(xt)
            t_model += time.time() - t1
            for (p, _), k in zip(chunk, logits.argmax(1).tolist()):
                preds[p] = k
    total = time.time() - t0
    correct = sum(preds[p] == c for p, c in files)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}: top-1 {100 * correct / len(files):.2f}% "
          f"({correct}/{len(files)}), {len(files) / total:.1f} images/s end to end, "
          f"{len(files) / t_model:.1f} images/s model only (batch {args.batch})")
    if args.compare:
        seer = {}
        with open(args.compare) as f:
            for line in f:
                r = json.loads(line)
                if r.get("ok"):
                    seer[os.path.normpath(r["file"])] = r["top"][0]["class"]
        diff = [p for p, _ in files if seer.get(os.path.normpath(p)) != preds[p]]
        print(f"compared with {args.compare}: {len(seer)} seer rows, {len(diff)} images differ in top-1")
        for p in diff[:10]:
            print("  differs:", p, "torch", preds[p], "seer", seer.get(os.path.normpath(p)))


if __name__ == "__main__":
    main()
