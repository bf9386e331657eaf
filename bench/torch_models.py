#!/usr/bin/env python3
"""GPU throughput of the PyTorch references (eager F32, eager AMP BF16, torch.compile BF16) on
random weights, writing each model's weights as seer safetensors so that `seer_bench model`
runs the same network. Run on the GPU machine (timm installed there); the official VAN and
BiFormer sources are read from --ref (copies made outside the repo, never committed).

    python3 bench/torch_models.py --out DIR [--ref DIR] [--batch 256] [--models a,b,...]
                                  [--compile volo_d1_224,...] [--export-only]
"""
import argparse
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from ref_sparsifiner import import_biformer, load_module  # noqa: E402


def save_safetensors(path, sd, arch, config=None):
    """config: metadata seer.config (overrides of the arch's preset, e.g. "img_size=384")."""
    header, blobs, off = {}, [], 0
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        t = v.detach().float().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"seer.arch": arch, **({"seer.config": config} if config else {})}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def build(name, ref):
    import timm
    if name.startswith(("volo", "halo", "deit", "sehalo", "eca_halo")):
        return timm.create_model(name, pretrained=False)
    if name.startswith("van"):
        van = load_module("van_ref", os.path.join(ref, "VAN-Classification", "models", "van.py"))
        return getattr(van, name)(pretrained=False)
    if name.startswith("biformer"):
        return getattr(import_biformer(ref), name)(pretrained=False)
    raise SystemExit(f"unknown model {name}")


def bench(fn, x, iters=10):
    for _ in range(3):
        fn(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(x)
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--ref", default=".gpu/ref")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--models", default="volo_d1_224,halonet50ts,van_b2,biformer_tiny,deit_small_patch16_224")
    ap.add_argument("--compile", default="volo_d1_224,halonet50ts")
    ap.add_argument("--export-only", action="store_true", help="write the weights, time nothing")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name in args.models.split(","):
        m = build(name, args.ref).cuda().eval()
        size = 256 if name == "halonet50ts" else 224
        save_safetensors(os.path.join(args.out, name + ".safetensors"), m.state_dict(), name)
        if args.export_only:
            continue
        x = torch.randn(args.batch, 3, size, size, device="cuda")
        with torch.no_grad():
            f32 = bench(m, x)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                amp = bench(m, x)
                comp = None
                if name in args.compile.split(","):
                    cm = torch.compile(m)
                    comp = bench(cm, x)
        line = (f"torch {name:24s} batch {args.batch} size {size}: eager f32 {args.batch / f32 * 1e3:9.1f} img/s, "
                f"eager amp-bf16 {args.batch / amp * 1e3:9.1f} img/s")
        if comp:
            line += f", compile bf16 {args.batch / comp * 1e3:9.1f} img/s"
        print(line, flush=True)
        del m
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
