#!/usr/bin/env python3
"""torch.profiler's CUDA-time table of one reference backbone under BF16 autocast (eager, or
torch.compile with --compile), the PyTorch side of scripts/gpu-profile.sh. Random weights: only
the op mix matters here.

    python3 bench/torch_profile.py --weights-of biformer_tiny [--ref DIR] [--batch 64] [--size 224] [--compile]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights-of", required=True, help="model name, as torch_models.py builds it")
    ap.add_argument("--ref", default=".gpu/ref")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--compile", action="store_true", help="profile torch.compile(model) instead")
    args = ap.parse_args()
    m = build(args.weights_of, args.ref).cuda().eval()
    mode = "compile" if args.compile else "eager"
    if args.compile:
        m = torch.compile(m)
    x = torch.randn(args.batch, 3, args.size, args.size, device="cuda")
    acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        for _ in range(3):
            m(x)
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=acts) as prof:
            for _ in range(3):
                m(x)
            torch.cuda.synchronize()
    print(f"== torch {args.weights_of} {mode} amp-bf16 batch {args.batch}: 3 passes ==")
    table = prof.key_averages()
    try:
        print(table.table(sort_by="device_time_total", row_limit=30, max_name_column_width=60))
    except (AttributeError, KeyError, ValueError):  # torch before 2.4 names it cuda_time_total
        print(table.table(sort_by="cuda_time_total", row_limit=30, max_name_column_width=60))


if __name__ == "__main__":
    main()
