#!/usr/bin/env python3
"""Real-preset check of the VQGAN tokenizer (outside CI): ENAT's vq-f16-jax config (ch 128,
ch_mult 1,1,2,2,4, 2 blocks per level, 1024 x 256 codebook) with random weights (seed 0), the
reference against `seer tokenize` on real images at 256 x 256.

1. builds the reference VQModel from vq-f16-jax.yaml's values with random weights (GroupNorm
   affines random, codebook drawn from the encoder's latents, decoder output near [0, 1]; see
   make_vqgan.py) and writes WORK/vq-f16-jax.safetensors (state_dict keys, seer metadata);
2. runs the reference on the images (ENAT's center_crop_arr to 256, / 255): latents, ids, and
   the decoded images of those ids; writes WORK/ref_ids.safetensors;
3. runs `SEER tokenize encode --latents` on the same files and `SEER tokenize decode` on the
   reference's ids (so the decoder is compared on the same input), then prints: the share of
   identical token ids, latents and decoded-image errors (rel-L2, max-abs) and the 8-bit PNG
   agreement.

    /work/ref/venv/bin/python tools/golden/compare_vqgan.py --images DIR [--limit 8] \\
        [--work /tmp/vq_f16] [--seer build/seer] [--seer-args "--device cuda --precision bf16"]
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
sys.path.insert(0, here)
import seer_st  # noqa: E402
from make_vqgan import (F16_JAX, build, config_metadata, load_images, load_reference,  # noqa: E402
                        randomize, run_reference, state_dict_np)

IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp")


def list_images(folder, limit):
    out = []
    for root, _, names in os.walk(folder):
        out += [os.path.join(root, n) for n in names if n.lower().endswith(IMAGE_EXT)]
    out.sort()
    return out[:limit] if limit else out


def errors(got, want):
    d = got.astype(np.float64) - want
    return np.linalg.norm(d) / np.linalg.norm(want), np.abs(d).max(), np.abs(want).max()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True)
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--work", default="/tmp/vq_f16")
    ap.add_argument("--ref", default="/work/ref/ENAT")
    ap.add_argument("--seer", default=os.path.join(here, "..", "..", "build", "seer"))
    ap.add_argument("--seer-args", default="", help="extra options for seer (device, precision)")
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    files = list_images(args.images, args.limit)
    size = F16_JAX["resolution"]
    print(f"{len(files)} images from {args.images}, {size} x {size}")

    vqgan, utils = load_reference(args.ref)
    torch.manual_seed(0)
    model = build(vqgan, F16_JAX, 1024, 256)
    x = np.concatenate([load_images(utils, os.path.dirname(f), [os.path.basename(f)], size) for f in files])
    t0 = time.time()
    randomize(model, torch.from_numpy(x[:4]).permute(0, 3, 1, 2).contiguous(), out_scale=0.8, seed=1)
    weights = os.path.join(args.work, "vq-f16-jax.safetensors")
    meta = config_metadata(F16_JAX, 1024, 256, arch="vq-f16-jax")
    seer_st.write_safetensors(weights, state_dict_np(model, half=False), meta)

    lat, ids, dec = [], [], []
    for i in range(0, len(files), args.batch):
        z, k, d, _ = run_reference(model, x[i:i + args.batch])
        lat.append(z)
        ids.append(k)
        dec.append(np.clip(d, 0, 1))
    lat, ids, dec = np.concatenate(lat), np.concatenate(ids), np.concatenate(dec)
    print(f"reference: {time.time() - t0:.1f} s; ids use {len(np.unique(ids))} of 1024 codes")
    ref_ids = os.path.join(args.work, "ref_ids.safetensors")
    seer_st.write_safetensors(ref_ids, {"ids": ids}, {"files": json.dumps(files)})

    seer = [args.seer] + shlex.split(args.seer_args)
    out_ids = os.path.join(args.work, "seer_ids.safetensors")
    out_dec = os.path.join(args.work, "seer_decoded.safetensors")
    t0 = time.time()
    subprocess.run([args.seer, "tokenize", "encode", "--weights", weights, "--size", str(size), "--latents",
                    "--batch", str(args.batch), "--out", out_ids] + seer[1:] + files, check=True)
    subprocess.run([args.seer, "tokenize", "decode", "--weights", weights, "--ids", ref_ids, "--batch",
                    str(args.batch), "--out", os.path.join(args.work, "seer_png"), "--images", out_dec]
                   + seer[1:], check=True)
    print(f"seer: {time.time() - t0:.1f} s")

    got, gmeta = seer_st.read_safetensors(out_ids)
    order = [json.loads(gmeta["files"]).index(f) for f in files]
    g_ids, g_lat = got["ids"][order], got["latents"][order]
    g_dec = seer_st.read_safetensors(out_dec)[0]["images"]
    same = np.mean(g_ids == ids)
    print(f"token ids identical: {100 * same:.3f}% ({int((g_ids != ids).sum())} of {ids.size} differ); "
          f"images with all ids identical: {np.mean([(g_ids[i] == ids[i]).all() for i in range(len(files))]) * 100:.1f}%")
    rel, mx, ref_max = errors(g_lat, lat)
    print(f"latents: rel-L2 {rel:.2e}, max-abs {mx:.2e} (max |ref| {ref_max:.2e})")
    rel, mx, ref_max = errors(g_dec, dec)
    print(f"decoded (same ids): rel-L2 {rel:.2e}, max-abs {mx:.2e} (max |ref| {ref_max:.2e})")
    ref_u8 = (dec * 255 + 0.5).clip(0, 255).astype(np.uint8)
    png_diff = []
    for i, f in enumerate(files):
        stem = os.path.splitext(os.path.basename(f))[0]
        png = np.asarray(Image.open(os.path.join(args.work, "seer_png", stem + ".png")))
        png_diff.append(np.abs(png.astype(int) - ref_u8[i]).max())
    print(f"8-bit PNGs: max difference {max(png_diff)} levels")


if __name__ == "__main__":
    main()
