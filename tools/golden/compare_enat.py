#!/usr/bin/env python3
"""Real-preset check of ENAT (outside CI): the ENAT-L network of ENAT's README (--enc_dec 22 2
--embed_dim 1024 --num_heads 16, 16 x 16 tokens, 1024 codes, 1000 classes) with random weights
(seed 0, adaLN random as in make_enat.py), the reference's whole 8-step generation against
`seer generate` given the same random draws.

1. builds the reference DiT, writes WORK/<preset>.safetensors (state_dict keys, seer.arch);
2. runs NATSchedule.generate (cfg 2.5, mask_temp 1.5, samp_temp 6: the ImageNet-256 settings)
   for N images of one class, recording its random draws (see make_enat.py: the uniforms of
   torch's CPU multinomial and the Gumbels), written to WORK/noise.safetensors;
3. runs `SEER generate --noise WORK/noise.safetensors --tokens ...` with the tokenizer file given
   (e.g. the random vq-f16-jax of compare_vqgan.py) and compares the token grids; the images
   whose tokens agree are also compared with the reference tokenizer's decoding (8-bit).

    /work/ref/venv/bin/python tools/golden/compare_enat.py --tokenizer /tmp/vq_f16/vq-f16-jax.safetensors \\
        [--preset enat_l|tiny] [--n 4] [--class 207] [--work /tmp/enat_l] [--seer build/seer] \\
        [--seer-args "--device cuda"]
"""
import argparse
import os
import shlex
import subprocess
import sys
import time
import types

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
sys.path.insert(0, here)
import seer_st  # noqa: E402
from make_enat import GEN, TINY, Recorder, build, config_metadata, load_reference, randomize  # noqa: E402
from make_vqgan import build as build_vqgan  # noqa: E402
from make_vqgan import load_reference as load_vqgan_reference  # noqa: E402

ENAT_L = dict(grid=16, hidden=1024, heads=16, enc_dec=(22, 2), codebook=1024, classes=1000)


def reference_tokenizer(ref, path):
    """The reference VQModel with the weights (and vqgan.* config) of a seer tokenizer file."""
    vqgan, _ = load_vqgan_reference(ref)
    sd, meta = seer_st.read_safetensors(path)
    dd = dict(double_z=False, z_channels=int(meta["vqgan.z_channels"]), resolution=256, in_channels=3,
              out_ch=int(meta.get("vqgan.out_ch", 3)), ch=int(meta["vqgan.ch"]),
              ch_mult=[int(m) for m in meta["vqgan.ch_mult"].split(",")],
              num_res_blocks=int(meta["vqgan.num_res_blocks"]), attn_resolutions=[], dropout=0.0)
    model = build_vqgan(vqgan, dd, int(meta["vqgan.n_embed"]), int(meta["vqgan.embed_dim"]))
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in sd.items()})
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--preset", default="enat_l", choices=["enat_l", "tiny"])
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--class", dest="cls", type=int, default=207)
    ap.add_argument("--work", default="/tmp/enat_l")
    ap.add_argument("--ref", default="/work/ref/ENAT")
    ap.add_argument("--seer", default=os.path.join(here, "..", "..", "build", "seer"))
    ap.add_argument("--seer-args", default="")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)

    DiT, nat_misc = load_reference(args.ref)
    cfg = ENAT_L if args.preset == "enat_l" else TINY
    L, V = cfg["grid"] ** 2, cfg["codebook"]
    t0 = time.time()
    model = build(DiT, cfg)
    randomize(model)
    weights = os.path.join(args.work, f"{args.preset}.safetensors")
    meta = {"seer.arch": "enat_l"} if args.preset == "enat_l" else config_metadata(cfg)
    seer_st.write_safetensors(weights, {k: v.numpy() for k, v in model.state_dict().items()}, meta)
    print(f"{args.preset}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, "
          f"written in {time.time() - t0:.0f} s")

    t0 = time.time()
    labels = torch.full((args.n,), args.cls, dtype=torch.long)
    sargs = types.SimpleNamespace(mask_temp=GEN["mask_temp"], samp_temp=GEN["samp_temp"],
                                  cfg_scale=GEN["cfg_scale"], seq_len=L)
    schedule = nat_misc.NATSchedule(codebook_size=V, device="cpu", args=sargs)
    torch.manual_seed(3)
    with Recorder(seed=4) as rec:
        ref_ids = schedule.generate(GEN["steps"], args.n, model, lambda z: z, latent_size=cfg["grid"],
                                    context=labels).reshape(args.n, L).numpy()
    del model
    print(f"reference generation: {time.time() - t0:.0f} s")
    noise = os.path.join(args.work, "noise.safetensors")
    seer_st.write_safetensors(noise, {
        "token_uniform_k": np.stack(rec.uniform_k).reshape(GEN["steps"], args.n, L),
        "gumbel": np.stack(rec.gumbel).reshape(GEN["steps"], args.n, L)})

    t0 = time.time()
    tokens = os.path.join(args.work, "seer_tokens.safetensors")
    png_dir = os.path.join(args.work, "png")
    subprocess.run([args.seer, "generate", "--model", "enat", "--weights", weights, "--tokenizer", args.tokenizer,
                    "--class", str(args.cls), "--n", str(args.n), "--batch", str(args.n), "--steps",
                    str(GEN["steps"]), "--cfg", str(GEN["cfg_scale"]), "--mask-temp", str(GEN["mask_temp"]),
                    "--samp-temp", str(GEN["samp_temp"]), "--noise", noise, "--tokens", tokens, "--out", png_dir]
                   + shlex.split(args.seer_args), check=True)
    print(f"seer generation + decoding: {time.time() - t0:.0f} s")
    got = seer_st.read_safetensors(tokens)[0]["ids"].reshape(args.n, L)
    same = (got == ref_ids).all(axis=1)
    print(f"token ids identical: {100 * np.mean(got == ref_ids):.2f}% of {got.size}; "
          f"images with identical tokens: {int(same.sum())} of {args.n}")

    vq = reference_tokenizer(args.ref, args.tokenizer)
    g = cfg["grid"]
    with torch.no_grad():
        dec = vq.decode_code(torch.from_numpy(ref_ids.reshape(args.n, g, g))).clamp(0, 1)
    ref_u8 = (dec.permute(0, 2, 3, 1).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    name = "enat_l" if args.preset == "enat_l" else "enat_tiny"
    diffs = []
    for i in np.flatnonzero(same):
        png = np.asarray(Image.open(os.path.join(png_dir, f"{name}_c{args.cls}_s{i}.png")))
        diffs.append(int(np.abs(png.astype(int) - ref_u8[i]).max()))
    if diffs:
        print(f"decoded images of identical tokens: max difference {max(diffs)} levels (8-bit)")


if __name__ == "__main__":
    main()
