#!/usr/bin/env python3
"""ENAT generation speed, PyTorch side of scripts/gpu-enat-bench.sh (issue 8).

The official code: ENAT's libs/models.py DiT, libs/nat_misc.py NATSchedule.generate and taming's
VQModel.decode_code (+ clamp, as ENAT's train.py), with random weights: the DiT from
make_enat.build + randomize (seeds 0, 1; ENAT-L of compare_enat.py or make_enat.TINY), the VQGAN
(vq-f16-jax, or make_vqgan.TINY) with its own init (seed 0), both rounded to float16 values and
written as seer files WORK/enat.safetensors and WORK/vqgan.safetensors for `seer_bench enat`.

Per precision (bf16: torch.autocast bfloat16, as ENAT's own mixed-precision sampling; f32: TF32
off for matmuls and cuDNN): one warm-up batch, then ITERS batches of B images of class 207 with
the ImageNet-256 settings (make_enat.GEN: 8 steps, cfg 2.5, mask_temp 1.5, samp_temp 6), each
timed as generation (NATSchedule.generate, decode_fn the identity) then decode (decode_code of
those tokens + clamp), synchronize + perf_counter around each; medians. --compile adds a bf16
row with every DiT block compiled (torch.compile, dynamic shapes; the forward around the blocks
uses boolean indexing and stays eager).

FLOPs per image = 2 x the multiply-adds of the matrix products and convolutions (norms,
activations, softmax and the sampler not counted), counted analytically from the config and the
schedule's token counts per step (enat_flops, vqgan_decoder_flops), and checked against a count
of the same ops as they run (OpFlops: a TorchDispatchMode over the DiT's forward passes in one
batch-1 generation, and over its decode).

    python3 bench/enat_timing.py --work DIR [--ref /work/ref/ENAT] [--preset enat_l|tiny]
        [--device cpu|cuda] [--batch 64] [--iters 3] [--precisions bf16,f32] [--compile]
    python3 bench/enat_timing.py --table DIR [--preset ...]   the comparison with DIR/seer_enat.log
    python3 bench/enat_timing.py --list-ref-files [--ref ...]   the reference files it imports

One JSON line per precision goes to WORK/torch_enat.jsonl. --ref is ENAT's checkout or the copy
`scripts/gpu-enat-bench.sh pack` makes (.gpu/ref/ENAT).
"""
import argparse
import contextlib
import importlib.util
import json
import math
import os
import re
import statistics
import sys
import time
import traceback
import types

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "golden"))
import seer_st  # noqa: E402
from compare_enat import ENAT_L  # noqa: E402
from make_enat import GEN, TINY, build, config_metadata, randomize  # noqa: E402
from make_enat import load_reference as load_enat  # noqa: E402
from make_vqgan import F16_JAX, TINY_CODEBOOK, state_dict_np  # noqa: E402
from make_vqgan import TINY as VQ_TINY  # noqa: E402
from make_vqgan import build as build_vqgan  # noqa: E402
from make_vqgan import config_metadata as vq_metadata  # noqa: E402

CLASS = 207
# measured peaks of the H200 (bench/RESULTS.md): cuBLAS BF16 GEMM and FP32 FFMA, TFLOP/s
PEAK_TFLOPS = {"bf16": 781.2, "f32": 60.9}


# ---- FLOPs ----------------------------------------------------------------------------------

def mask_counts(L, steps):
    """[MASK] tokens in the input of each step of NATSchedule.generate: all at the first, then
    floor(L cos(pi/2 (s + 1) / T)) after step s (visible tokens are never masked again)."""
    return [L] + [math.floor(L * np.cos((s + 1) / steps * math.pi * 0.5)) for s in range(steps - 1)]


def enat_flops(cfg, steps):
    """FLOPs per image of one generation, by part, CFG's two passes per step included. Step s:
    the encoder runs over the tokens revealed since the previous step (new) with the previous
    step's visible ones (old, through prev_proj) as extra keys/values; the decoder's [MASK]
    queries attend to all L tokens; the head runs over all L."""
    D, L, V = cfg["hidden"], cfg["grid"] ** 2, cfg["codebook"]
    n_enc, n_dec = cfg["enc_dec"]
    part = dict(encoder=0, prev_proj=0, decoder=0, head=0, adaln=0)
    masked = mask_counts(L, steps)
    for s, m in enumerate(masked):
        old = L - masked[s - 1] if s else 0
        new = L - m - old
        if s:  # prev_proj: LayerNorm + MLP (D -> 4D -> D) over the old visible tokens
            part["prev_proj"] += 8 * old * D * D
        if new:  # q, kv.A (old), kv.B (new), q k^T and attn v over old + new, proj, MLP
            part["encoder"] += n_enc * (new * D * D + 2 * old * D * D + 2 * new * D * D
                                        + 2 * new * (old + new) * D + new * D * D + 8 * new * D * D)
            part["adaln"] += n_enc * 8 * D * D
        # q over the m masked, kv.A / kv.B over the L - m visible / m masked, attention over L
        part["decoder"] += n_dec * (m * D * D + 2 * L * D * D + 2 * m * L * D + m * D * D + 8 * m * D * D)
        part["adaln"] += n_dec * 8 * D * D
        part["head"] += L * D * D + L * D * (V + 1)  # mlm_layer.fc, logits against the embeddings
    return {k: 2 * 2 * v for k, v in part.items()}  # 2 FLOPs per multiply-add, 2 passes (CFG)


def vqgan_decoder_flops(dd, grid):
    """FLOPs per image of taming's Decoder (ENAT's copy: no attention blocks) from grid x grid
    codes: conv_in, two middle blocks, per level num_res_blocks blocks (1x1 nin_shortcut where
    the width changes) and an upsampling conv, conv_out."""
    def conv(cin, cout, k, res):
        return 2 * cin * cout * k * k * res * res
    ch, mult = dd["ch"], dd["ch_mult"]
    block_in, res = ch * mult[-1], grid
    f = conv(dd["z_channels"], block_in, 3, res) + 4 * conv(block_in, block_in, 3, res)
    for i in reversed(range(len(mult))):
        out = ch * mult[i]
        for _ in range(dd["num_res_blocks"]):
            f += conv(block_in, out, 3, res) + conv(out, out, 3, res)
            f += conv(out, out, 1, res) if block_in != out else 0
            block_in = out
        if i:
            res *= 2
            f += conv(block_in, block_in, 3, res)
    return f + conv(block_in, dd["out_ch"], 3, res)


class OpFlops(TorchDispatchMode):
    """Adds up 2 x the multiply-adds of every matrix product and convolution that runs under it
    (what torch.utils.flop_counter counts; that module is not in torch 1.13)."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name in ("mm", "addmm", "bmm", "baddbmm"):
            a, b = args[-2:]
            self.flops += 2 * a.numel() * b.shape[-1]
        elif "convolution" in name:
            self.flops += 2 * out.numel() * args[1][0].numel()
        return out


# ---- the reference --------------------------------------------------------------------------

def load_reference(ref):
    """(DiT class, nat_misc module, vqgan module) from ENAT's checkout or its packed copy."""
    DiT, nat_misc = load_enat(ref)
    spec = importlib.util.spec_from_file_location("enat_vqgan", os.path.join(ref, "taming/models/vqgan.py"))
    vqgan = sys.modules["enat_vqgan"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vqgan)
    return DiT, nat_misc, vqgan


def presets(name):
    if name == "enat_l":
        return ENAT_L, F16_JAX, (1024, 256), "vq-f16-jax"
    return TINY, VQ_TINY, TINY_CODEBOOK, "vqgan"


def build_and_write(args):
    """The reference DiT and VQGAN with random weights, written as seer files in args.work."""
    DiT, nat_misc, vqgan = load_reference(args.ref)
    cfg, dd, (n_embed, embed_dim), vq_arch = presets(args.preset)
    t0 = time.time()
    model = build(DiT, cfg)
    randomize(model)  # float16 values
    meta = {"seer.arch": "enat_l"} if args.preset == "enat_l" else config_metadata(cfg)
    seer_st.write_safetensors(os.path.join(args.work, "enat.safetensors"),
                              {k: v.numpy().astype(np.float16) for k, v in model.state_dict().items()}, meta)
    torch.manual_seed(0)
    vq = build_vqgan(vqgan, dd, n_embed, embed_dim)
    with torch.no_grad():
        for p in vq.parameters():
            p.copy_(p.half().float())
    seer_st.write_safetensors(os.path.join(args.work, "vqgan.safetensors"), state_dict_np(vq, half=True),
                              vq_metadata(dd, n_embed, embed_dim, arch=vq_arch))
    print(f"{args.preset}: DiT {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, "
          f"VQGAN {sum(p.numel() for p in vq.parameters()) / 1e6:.1f} M; built and written to {args.work} "
          f"in {time.time() - t0:.0f} s", flush=True)
    return model.to(args.device), vq.to(args.device), nat_misc, cfg, dd


# ---- timing ---------------------------------------------------------------------------------

def sampler(nat_misc, cfg, device):
    sargs = types.SimpleNamespace(mask_temp=GEN["mask_temp"], samp_temp=GEN["samp_temp"],
                                  cfg_scale=GEN["cfg_scale"], seq_len=cfg["grid"] ** 2)
    return nat_misc.NATSchedule(codebook_size=cfg["codebook"], device=device, args=sargs)


def precision_ctx(device, prec):
    if prec == "bf16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def one_batch(model, vq, schedule, cfg, labels, device, prec):
    """Seconds of the generation and of the decode of one batch."""

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
    with torch.no_grad(), precision_ctx(device, prec):
        sync()
        t0 = time.perf_counter()
        ids = schedule.generate(GEN["steps"], len(labels), model, lambda z: z, latent_size=cfg["grid"],
                                context=labels)
        sync()
        t1 = time.perf_counter()
        vq.decode_code(ids).clamp_(0.0, 1.0)
        sync()
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def count_flops(model, vq, schedule, cfg, device):
    """(generation, decode) FLOPs of one image, as run: each forward pass of the DiT of a batch-1
    generation under OpFlops (the sampler between them has no matrix products), then the decode."""
    total = [0]
    forward = model.forward

    def counted(*a, **k):
        with OpFlops() as mode:
            out = forward(*a, **k)
        total[0] += mode.flops
        return out
    labels = torch.full((1,), CLASS, dtype=torch.long, device=device)
    model.forward = counted
    try:
        with torch.no_grad():
            ids = schedule.generate(GEN["steps"], 1, model, lambda z: z, latent_size=cfg["grid"], context=labels)
            with OpFlops() as dec:
                vq.decode_code(ids)
    finally:
        model.forward = forward
    return total[0], dec.flops


def compile_blocks(model):
    for blk in model.blocks:
        blk.forward = torch.compile(blk.forward, dynamic=True)


def time_row(args, model, vq, schedule, cfg, labels, prec, compiled):
    """Medians over args.iters batches after the warm-up (two when compiling)."""
    warmup = 2 if compiled else 1
    if compiled:
        t0 = time.time()
        compile_blocks(model)
    gens, decs = [], []
    for it in range(warmup + args.iters):
        torch.manual_seed(3)
        np.random.seed(4)
        g, d = one_batch(model, vq, schedule, cfg, labels, args.device, prec)
        if compiled and it == 0:
            print(f"  torch.compile: first batch {time.time() - t0:.0f} s", flush=True)
        if it >= warmup:
            gens.append(g)
            decs.append(d)
    tot = [g + d for g, d in zip(gens, decs)]
    r = dict(engine="torch" + (" compile" if compiled else ""), precision=prec, batch=args.batch,
             steps=GEN["steps"], iters=args.iters, gen_ms=1e3 * statistics.median(gens),
             dec_ms=1e3 * statistics.median(decs), total_ms=1e3 * statistics.median(tot))
    print(f"{r['engine']} {prec}: generate {r['gen_ms']:.2f} ms/batch, decode {r['dec_ms']:.2f} ms/batch, "
          f"total {r['total_ms']:.2f} ms/batch (medians of {args.iters}), "
          f"{args.batch / r['total_ms'] * 1e3:.2f} img/s", flush=True)
    return r


def run(args):
    os.makedirs(args.work, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False  # F32 stays F32 (autocast's bf16 is unaffected)
    torch.backends.cudnn.allow_tf32 = False
    model, vq, nat_misc, cfg, dd = build_and_write(args)
    schedule = sampler(nat_misc, cfg, args.device)
    dev_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"torch {torch.__version__} on {dev_name}; batch {args.batch}, {GEN['steps']} steps, "
          f"cfg {GEN['cfg_scale']}, class {CLASS}", flush=True)

    flops = enat_flops(cfg, GEN["steps"])
    gen_flops, dec_flops = sum(flops.values()), vqgan_decoder_flops(dd, cfg["grid"])
    torch.manual_seed(3)
    np.random.seed(4)
    G = lambda f: f"{f / 1e9:.4g} G"  # noqa: E731
    print("FLOPs per image (2 x multiply-adds of the matrix products and convolutions), analytic: "
          f"generation {G(gen_flops)} (" + ", ".join(f"{k} {G(v)}" for k, v in flops.items())
          + f"; CFG's two passes included), VQGAN decode {G(dec_flops)}; "
          f"[MASK] tokens in each step's input {mask_counts(cfg['grid'] ** 2, GEN['steps'])}", flush=True)
    try:
        run_gen, run_dec = count_flops(model, vq, schedule, cfg, args.device)
        print(f"FLOPs per image as run (TorchDispatchMode, batch 1): generation {G(run_gen)} "
              f"({run_gen / gen_flops - 1:+.2e} from analytic), decode {G(run_dec)} "
              f"({run_dec / dec_flops - 1:+.2e})", flush=True)
    except Exception as e:  # the check only; the analytic count stands
        print(f"FLOPs as run: not counted ({type(e).__name__}: {e})", flush=True)

    labels = torch.full((args.batch,), CLASS, dtype=torch.long, device=args.device)
    rows = [(p, False) for p in args.precisions.split(",")] + ([("bf16", True)] if args.compile else [])
    out = open(os.path.join(args.work, "torch_enat.jsonl"), "w")
    for prec, compiled in rows:
        try:
            r = time_row(args, model, vq, schedule, cfg, labels, prec, compiled)
        except Exception:  # one failing row (e.g. compilation) should not lose the others
            traceback.print_exc()
            continue
        r.update(preset=args.preset, device=args.device, gpu=dev_name, torch=torch.__version__,
                 gen_flops=gen_flops, dec_flops=dec_flops)
        out.write(json.dumps(r) + "\n")
        out.flush()
    out.close()


# ---- the comparison table -------------------------------------------------------------------

SEER_RE = re.compile(r"^seer enat \S+ (\S+) (\S+) batch (\d+) steps (\d+) cfg \S+: generate ([\d.]+) ms/batch, "
                     r"decode ([\d.]+) ms/batch, total ([\d.]+) ms/batch")


def print_table(work, preset):
    """The rows of WORK/torch_enat.jsonl and WORK/seer_enat.log (either may be missing: a step
    that failed), rated with the FLOPs of the preset (the same computation in both engines)."""
    cfg, dd, _, _ = presets(preset)
    gen_flops, dec_flops = sum(enat_flops(cfg, GEN["steps"]).values()), vqgan_decoder_flops(dd, cfg["grid"])
    path = os.path.join(work, "torch_enat.jsonl")
    rows = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    info = rows[0] if rows else {}
    path = os.path.join(work, "seer_enat.log")
    for line in open(path) if os.path.exists(path) else []:
        m = SEER_RE.match(line)
        if m:
            rows.append(dict(engine="seer", device=m[1], precision=m[2].lower(), batch=int(m[3]), steps=int(m[4]),
                             gen_ms=float(m[5]), dec_ms=float(m[6]), total_ms=float(m[7])))
    if not rows:
        raise SystemExit(f"enat_timing: no timings in {work}")
    cuda = rows[0]["device"] == "cuda"
    print(f"\nENAT ({preset}) on {info.get('gpu', rows[0]['device'])}, torch {info.get('torch', '-')}; "
          f"{GEN['steps']} steps with CFG, class {CLASS}. FLOPs per image: generation {gen_flops / 1e9:.4g} G, "
          f"VQGAN decode {dec_flops / 1e9:.4g} G. Times: medians per batch divided by the batch"
          + (f"; peaks (measured): BF16 cuBLAS {PEAK_TFLOPS['bf16']} TFLOP/s for the bf16 rows, FP32 FFMA "
             f"{PEAK_TFLOPS['f32']} TFLOP/s for the f32 rows" if cuda else "") + "\n")

    def rate(flops, ms, batch, prec):
        t = flops * batch / (ms * 1e-3) / 1e12
        return f"{t:.3g}" + (f" ({100 * t / PEAK_TFLOPS[prec]:.1f}%)" if cuda and prec in PEAK_TFLOPS else "")
    peak = " (% of peak)" if cuda else ""
    print("| engine | precision | batch | generate ms/image | decode ms/image | total ms/image | images/s "
          f"| generate TFLOP/s{peak} | decode TFLOP/s{peak} | total TFLOP/s{peak} |")
    print("|---" * 10 + "|")
    for r in rows:
        b, p = r["batch"], r["precision"]
        print(f"| {r['engine']} | {p} | {b} | {r['gen_ms'] / b:.3f} | {r['dec_ms'] / b:.3f} | {r['total_ms'] / b:.3f} "
              f"| {b / r['total_ms'] * 1e3:.1f} | {rate(gen_flops, r['gen_ms'], b, p)} "
              f"| {rate(dec_flops, r['dec_ms'], b, p)} | {rate(gen_flops + dec_flops, r['total_ms'], b, p)} |")


def list_ref_files(ref):
    """The files of `ref` that loading the reference imports (what the pack step copies)."""
    load_reference(ref)
    root = os.path.abspath(ref) + os.sep
    files = {os.path.abspath(m.__file__) for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
    for f in sorted(f for f in files if f.startswith(root)):
        print(os.path.relpath(f, root))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/enat_bench")
    ap.add_argument("--ref", default="/work/ref/ENAT")
    ap.add_argument("--preset", default="enat_l", choices=("enat_l", "tiny"))
    ap.add_argument("--device", default="cuda", choices=("cpu", "cuda"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--precisions", default="bf16,f32")
    ap.add_argument("--compile", action="store_true", help="also bf16 with the DiT blocks compiled")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--table", metavar="DIR", help="print the comparison of a run in DIR")
    ap.add_argument("--list-ref-files", action="store_true")
    args = ap.parse_args()
    if args.table:
        print_table(args.table, args.preset)
    elif args.list_ref_files:
        list_ref_files(args.ref)
    else:
        run(args)


if __name__ == "__main__":
    main()
