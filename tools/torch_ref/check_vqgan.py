#!/usr/bin/env python3
"""Parity of tools/torch_ref/vqgan.py with the reference (ENAT's taming/models/vqgan.py) and with
seer (tokenizer/vqgan.c through `seer tokenize`), on random weights.

(a) reference vs torch_ref, F32, on CIFAR-10 test images (PIL-decoded, [0, 1]): encoder
    latents, token ids, decode_code of the ids, the training pass (decoder of the straight-
    through latents and the reference's VQ loss = commitment + 0.25 codebook), at make_vqgan.py's
    tiny config and at the CIFAR config;
(b) torch_ref vs seer: the CIFAR model exported with cifar_metadata(); `seer tokenize encode
    --latents` on the JPEG files and `seer tokenize decode --images` on torch_ref's ids:
    latents, ids, decoded floats and 8-bit PNGs (and the same for a trained file: --trained).
Random weights as make_vqgan.py makes them (GroupNorm affines random, codebook drawn from the
encoder's own latents plus noise, so the argmin is decided by real distances; decoder output
near [0, 1]).

    /work/ref/venv/bin/python tools/torch_ref/check_vqgan.py [--seer build-h4/seer] [--n 16]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
sys.path.insert(0, os.path.join(os.path.dirname(here), "golden"))
import seer_st  # noqa: E402
from make_vqgan import TINY, TINY_CODEBOOK, build, load_reference, randomize  # noqa: E402
from torch_ref import vqgan as ours  # noqa: E402
from torch_ref.export import export_seer  # noqa: E402
from torch_ref.seer_check import REPO, cifar_files  # noqa: E402


def errors(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    d = got - want
    return np.linalg.norm(d) / max(np.linalg.norm(want), 1e-30), np.abs(d).max(), np.abs(want).max()


def report(name, got, want, tol=1e-5):
    rel, mx, ref_max = errors(got, want)
    ok = rel <= tol and mx <= 1e-4 * max(ref_max, 1e-30)
    print(f"  {name}: rel-L2 {rel:.2e}, max-abs {mx:.2e} (max |ref| {ref_max:.2e}) [{'ok' if ok else 'FAIL'}]")
    return ok


def load_pixels(files):
    """float32 NCHW in [0, 1], as PIL decodes the JPEGs (what seer's adm preset gives at 32)."""
    x = np.stack([np.asarray(Image.open(f).convert("RGB"), np.float32) / 255.0 for f in files])
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def ddconfig(cfg):
    return dict(double_z=False, z_channels=cfg["z_channels"], resolution=32, in_channels=3, out_ch=3,
                ch=cfg["ch"], ch_mult=list(cfg["ch_mult"]), num_res_blocks=cfg["num_res_blocks"],
                attn_resolutions=[], dropout=0.0)


def check_reference(vqgan, name, cfg, x):
    """Reference and torch_ref with the same random weights; returns (ok, torch_ref model)."""
    torch.manual_seed(0)
    ref = build(vqgan, ddconfig(cfg), cfg["n_embed"], cfg["embed_dim"])
    randomize(ref, x, out_scale=0.8, seed=1)
    model = ours.VQModel(**cfg).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    print(f"[{name}] {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, config {cfg}")
    ok = True
    with torch.no_grad():
        z_ref = ref.encoder(x)
        quant, loss_ref, (_, _, idx) = ref.quantize(z_ref)
        ids_ref = idx.reshape(z_ref.shape[0], z_ref.shape[2], z_ref.shape[3])
        dec_ref = ref.decode_code(ids_ref)
        rec_ref = ref.decode(quant)
        z, ids = model.encode(x)
        dec = model.decode_code(ids)
        rec, codebook, commit, ids_t, _ = model(x)
    ok &= report("encoder latents", z, z_ref)
    same = (ids == ids_ref).float().mean().item()
    print(f"  token ids identical: {100 * same:.2f}% ({len(torch.unique(ids_ref))} codes used)")
    ok &= same == 1.0 and bool((ids_t == ids_ref).all())
    ok &= report("decode_code", dec, dec_ref)
    ok &= report("training pass reconstruction", rec, rec_ref)
    ok &= report("VQ loss (commitment + 0.25 codebook)", (commit + 0.25 * codebook).reshape(1),
                 loss_ref.reshape(1))
    return ok, model


def check_seer(model, files, x, seer, threads):
    """torch_ref vs `seer tokenize` on the exported model."""
    print(f"[seer] {seer} on {len(files)} CIFAR-10 test JPEGs")
    ok = True
    with torch.no_grad():
        z, ids = model.encode(x)
        dec = model.decode(ids)
    with tempfile.TemporaryDirectory(prefix="check_vqgan_") as d:
        w = os.path.join(d, "vq_cifar.safetensors")
        export_seer(model, w, ours.cifar_metadata(model))
        out_ids = os.path.join(d, "ids.safetensors")
        common = ["--batch", "8", "--threads", str(threads), "--device", "cpu"]
        t0 = time.time()
        # no --size: the file's vqgan.resolution (32)
        r = subprocess.run([seer, "tokenize", "encode", "--weights", w, "--latents",
                            "--out", out_ids] + common + files, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"seer tokenize encode failed:\n{r.stderr}")
        ref_ids = os.path.join(d, "ref_ids.safetensors")
        # no file list: the PNGs are numbered (the CIFAR stems repeat across classes)
        seer_st.write_safetensors(ref_ids, {"ids": ids.numpy().astype(np.int64)}, {"size": "32"})
        out_dec = os.path.join(d, "decoded.safetensors")
        r = subprocess.run([seer, "tokenize", "decode", "--weights", w, "--ids", ref_ids, "--out",
                            os.path.join(d, "png"), "--images", out_dec] + common, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"seer tokenize decode failed:\n{r.stderr}")
        print(f"  seer encode + decode: {time.time() - t0:.1f} s")
        got, meta = seer_st.read_safetensors(out_ids)
        order = [json.loads(meta["files"]).index(f) for f in files]
        g_ids, g_lat = got["ids"][order], got["latents"][order]
        g_dec = seer_st.read_safetensors(out_dec)[0]["images"]
        ok &= report("latents (seer NHWC)", g_lat, z.permute(0, 2, 3, 1).numpy())
        same = np.mean(g_ids == ids.numpy())
        print(f"  token ids identical: {100 * same:.2f}% ({int((g_ids != ids.numpy()).sum())} of {g_ids.size} differ)")
        ok &= same == 1.0
        want = dec.permute(0, 2, 3, 1).numpy()
        ok &= report("decoded images (clamped)", g_dec, want)
        ref_u8 = (want * 255 + 0.5).clip(0, 255).astype(np.uint8)
        worst = 0
        for i in range(len(files)):
            png = np.asarray(Image.open(os.path.join(d, "png", f"{i:06d}.png")).convert("RGB"))
            worst = max(worst, int(np.abs(png.astype(int) - ref_u8[i]).max()))
        print(f"  8-bit PNGs: max difference {worst} levels [{'ok' if worst <= 1 else 'FAIL'}]")
        ok &= worst <= 1
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", default="/work/ref/ENAT")
    ap.add_argument("--seer", default=os.path.join(REPO, "build-cpu", "seer"))
    ap.add_argument("--n", type=int, default=16, help="CIFAR-10 test images")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--trained", default=None, help="also check a trained tokenizer file against seer")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    vqgan, _ = load_reference(a.ref)
    files = cifar_files(a.n)
    x = load_pixels(files)
    tiny = dict(ch=TINY["ch"], ch_mult=tuple(TINY["ch_mult"]), num_res_blocks=TINY["num_res_blocks"],
                z_channels=TINY["z_channels"], n_embed=TINY_CODEBOOK[0], embed_dim=TINY_CODEBOOK[1])
    ok, _ = check_reference(vqgan, "reference vs torch_ref, tiny", tiny, x)
    ok_c, model = check_reference(vqgan, "reference vs torch_ref, CIFAR", dict(ours.CIFAR), x)
    ok &= ok_c
    ok &= check_seer(model, files, x, a.seer, a.threads)
    if a.trained:
        print(f"[trained] {a.trained} (as F32)")
        ok &= check_seer(ours.from_seer_file(a.trained)[0], files, x, a.seer, a.threads)

    # the CIFAR model's cost: parameters, forward+backward time on this CPU
    m = ours.build_cifar()
    n_enc = sum(p.numel() for p in m.encoder.parameters())
    n_dec = sum(p.numel() for p in m.decoder.parameters())
    xb = torch.rand(64, 3, 32, 32)
    m.train()
    t0 = time.time()
    rec, codebook, commit, _, _ = m(xb)
    ((rec - xb).abs().mean() + commit).backward()
    print(f"[cost] CIFAR tokenizer: encoder {n_enc / 1e6:.2f}M + decoder {n_dec / 1e6:.2f}M params + "
          f"codebook {m.quantize.embedding.weight.numel() / 1e3:.0f}k; forward+backward at batch 64 on "
          f"this CPU ({a.threads} threads): {time.time() - t0:.2f} s")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
