#!/usr/bin/env python3
"""Dense DeiT-S vs Sparsifiner vs Agent-DeiT-S, PyTorch side of bench/attention_table.sh.

For each model and input size: the official reference code (DeiT: timm; Sparsifiner: its
src/models/sparsifiner.py with sparsifiner_default_config.yaml, built as src/main.py builds
`sparsifiner`; Agent-DeiT-S: agent_transformer/models/agent_deit.py) with its own random
initialization (seed 0) at that size (position embeddings, Sparsifiner's proj_n / proj_back_n
and Agent's position biases are made for the size's token count), eager:
  - the whole forward pass, F32 (and bf16 autocast on CUDA with --bf16);
  - one block's attention module alone (blk.attn) on a random [B, L, C] input, and its qkv +
    proj Linears alone, each x 12 blocks;
and writes the same weights as DIR/<model>_<size>.safetensors (seer.config img_size=<size>) for
`seer_bench model`. Also prints the attention multiply-adds counted from the configurations.

    python3 bench/torch_attention.py --out DIR [--ref /work/ref] [--device cpu|cuda]
        [--sizes 224,384,512] [--batches 1,8] [--threads 2] [--iters 5] [--bf16]
    python3 bench/torch_attention.py --flops [--sizes ...]     the FLOP table only

--ref holds Sparsifiner/ and Agent-Attention/ (the official repositories, or the files that
`bench/attention_table.sh pack` copies into .gpu/ref) and, if present, pydeps/ (yacs for the
GPU machine). One JSON line per measurement goes to DIR/torch_attention.jsonl.
"""
import argparse
import importlib
import json
import math
import os
import statistics
import sys
import time
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from ref_sparsifiner import load_module, sparsifiner_cfg  # noqa: E402

MODELS = ("deit", "sparsifiner", "agent")
ARCH = {"deit": "deit_small_patch16_224", "sparsifiner": "sparsifiner", "agent": "agent_deit_small"}
C, H, DEPTH, PATCH = 384, 6, 12, 16  # DeiT-S


# ---- attention multiply-adds from the configurations ----------------------------------------

def attention_macs(size):
    """Per-image multiply-adds of the 12 attention blocks without the qkv/proj Linears (the
    same in all three), by part; the formulas of bench/bench_vit_attn.c."""
    D, W = C // H, size // PATCH
    N = W * W
    L = N + 1
    c, K, keep, A = D // 2, L // 6, math.ceil(0.25 * L), 49
    dense = H * L * L * 2 * D
    pred = H * (2 * L * D * c + c * L * K + L * c * K)  # proj_c_q/k, k_low, cheap scores
    approx = H * (L - 1) * K * L  # top-8 coefficients x basis, as a dense product
    gathered = H * ((L - 1) * keep + L) * 2 * D  # patch queries over kept keys + class row
    agent = H * (A * L + L * A) * 2 * D + N * C * 9
    linears = L * 4 * C * C
    approx8 = H * (L - 1) * 8 * L  # the same product using only the 8 nonzero coefficients
    macs = dict(dense=dense, predictor=pred, approx=approx, approx8=approx8, gathered=gathered, agent=agent,
                linears=linears)
    return dict({k: DEPTH * v for k, v in macs.items()}, L=L, keep=keep)


def fewer(a, b):
    """a against b as "N% fewer" or "N% more"."""
    r = 1 - a / b
    return f"{100 * r:.0f}% fewer" if r >= 0 else f"{-100 * r:.0f}% more"


def flops_table(sizes):
    """GFLOP (2 x multiply-adds) per image, 12 blocks."""
    print("| input | tokens L | kept keys | dense QK^T+AV | Sparsifiner: kept-key attention | predictor: low-rank "
          "scores | predictor: approx = coef basis (dense; top-8 only) | Sparsifiner total vs dense | Agent: 2 "
          "attentions + DWC vs dense | qkv+proj Linears | Sparsifiner total if approx used only the top-8 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in sizes:
        m = attention_macs(s)
        g = lambda v: f"{2 * v / 1e9:.3f}"  # noqa: E731
        sp = m["gathered"] + m["predictor"] + m["approx"]
        sp8 = m["gathered"] + m["predictor"] + m["approx8"]
        print(f"| {s} | {m['L']} | {m['keep']} | {g(m['dense'])} | {g(m['gathered'])} ({fewer(m['gathered'], m['dense'])}) "
              f"| {g(m['predictor'])} | {g(m['approx'])}; {g(m['approx8'])} | {g(sp)} ({fewer(sp, m['dense'])}) | "
              f"{g(m['agent'])} ({fewer(m['agent'], m['dense'])}) | {g(m['linears'])} | {g(sp8)} "
              f"({fewer(sp8, m['dense'])}) |")


# ---- the table from a run's logs --------------------------------------------------------------

def read_run(out):
    """torch_attention.jsonl and seer.log of bench/attention_table.sh -> {key: [values]}, the
    values of the repeats; keys (who, what, model, size, batch, precision), times in ms per batch."""
    import re
    cells = {}

    def add(key, v):
        cells.setdefault(key, []).append(v)
    with open(os.path.join(out, "torch_attention.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            k = (r["model"], r["size"], r["batch"], r["precision"])
            add(("torch", "forward") + k, r["forward_ms"])
            add(("torch", "attention") + k, r["attn_ms"] - r["linears_ms"])
            add(("torch", "linears") + k, r["linears_ms"])
    model_re = re.compile(r"^\[(\w+) (\d+) \d+\] seer \S+\s+\S+\s+(\S+)\s+batch\s+(\d+).*median\s+([\d.]+)\)")
    attn_re = re.compile(r"^\[attn (\d+) (\d+) \d+\]\s+(all three|dense|sparsifiner|agent)\s+(.+?)\s+([\d.]+) ms")
    prec = {}
    with open(os.path.join(out, "seer.log")) as f:
        for line in f:
            m = model_re.match(line)
            if m:
                add(("seer", "forward", m[1], int(m[2]), int(m[4]), m[3]), float(m[5]))
                continue
            h = re.match(r"^\[attn (\d+) (\d+) \d+\] seer attn \S+ (\S+)", line)
            if h:
                prec[(h[1], h[2])] = h[3]
                continue
            m = attn_re.match(line)
            if m:
                model = {"dense": "deit", "all three": "all"}.get(m[3], m[3])
                add(("seer", m[4], model, int(m[1]), int(m[2]), prec[(m[1], m[2])]), float(m[5]))
    return cells


def print_table(out):
    cells = read_run(out)
    med = {k: statistics.median(v) for k, v in cells.items()}
    reps = max(len(v) for v in cells.values())
    keys = sorted({k[2:] for k in med}, key=lambda k: (k[1], k[2], MODELS.index(k[0]) if k[0] in MODELS else 9, k[3]))
    precs = sorted({k[3] for k in keys}, key=lambda p: p != "f32")
    sizes = sorted({k[1] for k in keys})
    batches = sorted({k[2] for k in keys})

    def cell(who, what, model, size, batch, prec, per_image=True):
        v = med.get((who, what, model, size, batch, prec))
        return "-" if v is None else f"{v / (batch if per_image else 1):.1f}"

    def ratio(who, what, model, size, batch, prec):
        a, d = med.get((who, what, model, size, batch, prec)), med.get((who, what, "deit", size, batch, prec))
        return "" if a is None or d is None else f" ({a / d:.2f}x)"
    print(f"Whole forward pass, ms per image (median of {reps} repeats; in brackets: time / dense DeiT-S's, "
          "same engine, size, batch and precision)\n")
    head = "| input | batch | model | " + " | ".join(f"PyTorch {p} | seer {p}" for p in precs) + " |"
    print(head + "\n" + "|---" * (3 + 2 * len(precs)) + "|")
    for size in sizes:
        for batch in batches:
            for model in MODELS:
                row = [str(size), str(batch), model]
                for p in precs:
                    for who in ("torch", "seer"):
                        row.append(cell(who, "forward", model, size, batch, p) + ratio(who, "forward", model, size, batch, p))
                print("| " + " | ".join(row) + " |")
    print(f"\nAttention alone (12 blocks, without the qkv/proj Linears), ms per image, median of {reps} repeats. "
          "PyTorch: blk.attn minus its Linears timed alone; seer: `seer_bench attn`, by stage\n")
    for p in precs:
        print(f"{p}:\n")
        print("| input | batch | qkv+proj Linears PyTorch / seer | dense PyTorch / seer | Sparsifiner PyTorch / seer "
              "| seer Sparsifiner: predictor scores / top-8 / approx / top-n keys / kept-key attention "
              "| Agent PyTorch / seer |")
        print("|---|---|---|---|---|---|---|")
        for size in sizes:
            for batch in batches:
                s = lambda what, model: cell("seer", what, model, size, batch, p)  # noqa: E731
                t = lambda model: cell("torch", "attention", model, size, batch, p)  # noqa: E731
                stages = " / ".join(s(w, "sparsifiner") for w in (
                    "predictor: low-rank scores + softmax", "predictor: top-8 coefficients",
                    "predictor: approx = coef basis", "predictor: top-n keys per query", "attention over the kept keys"))
                print(f"| {size} | {batch} | {cell('torch', 'linears', 'deit', size, batch, p)} / "
                      f"{s('qkv + proj Linears', 'all')} | {t('deit')} / {s('softmax(q k^T) v', 'deit')} | "
                      f"{t('sparsifiner')} / {s('= attention (without Linears)', 'sparsifiner')} | {stages} | "
                      f"{t('agent')} / {s('= attention (without Linears)', 'agent')} |")
        print()


# ---- the references -------------------------------------------------------------------------

def build(name, size, ref):
    """The reference model at input size `size`, random weights (seed 0), eval mode."""
    import torch
    torch.manual_seed(0)
    if name == "deit":
        import timm
        return timm.create_model("deit_small_patch16_224", pretrained=False, img_size=size).eval()
    if name == "sparsifiner":  # as src/main.py builds args.model == 'sparsifiner'
        cfg = sparsifiner_cfg(ref)
        mod = load_module("sparsifiner_ref", os.path.join(ref, "Sparsifiner", "src", "models", "sparsifiner.py"))
        with open(os.devnull, "w") as null:  # its constructor prints its configuration
            so, sys.stdout = sys.stdout, null
            try:
                m = mod.Sparsifiner(
                    img_size=size, patch_size=PATCH, embed_dim=C, depth=DEPTH, num_heads=H, num_classes=1000,
                    mlp_ratio=4, qkv_bias=True, distill=True, attn_keep_rate_list=[cfg.SPAR.ATTN_KEEP_RATE] * DEPTH,
                    token_keep_rate_list=[1.0] * DEPTH, token_pruning_loc_indicator=[False] * DEPTH,
                    reduce_n_factor=cfg.SPAR.REDUCE_N_FACTOR, reduce_c_factor=cfg.SPAR.REDUCE_C_FACTOR,
                    share_inout_proj=cfg.SPAR.SHARE_INOUT_PROJ, cfg=cfg)
            finally:
                sys.stdout = so
        return m.eval()
    if name == "agent":  # cfgs/agent_deit_s.yaml through models/build.py, at img_size
        import timm.models.registry as reg
        reg.register_model = lambda f: f  # its default_cfgs predate timm 1.0's registry
        pkg = types.ModuleType("agent_models")
        pkg.__path__ = [os.path.join(ref, "Agent-Attention", "agent_transformer", "models")]
        sys.modules["agent_models"] = pkg
        mod = importlib.import_module("agent_models.agent_deit")
        return mod.VisionTransformer(img_size=size, patch_size=PATCH, embed_dim=C, depth=DEPTH, num_heads=H,
                                     mlp_ratio=4, qkv_bias=True, agent_num=["49"] * 4).eval()
    raise SystemExit(f"unknown model {name}")


# ---- timing ---------------------------------------------------------------------------------

def timed(fn, device, iters, warmup=1):
    """Median seconds of fn() over iters runs after warmup runs."""
    import torch
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        if device == "cuda":
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--ref", default="/work/ref")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--sizes", default="224,384,512")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--bf16", action="store_true", help="also bf16 autocast (CUDA)")
    ap.add_argument("--flops", action="store_true", help="print the attention FLOP table and stop")
    ap.add_argument("--no-weights", action="store_true", help="do not write seer weights")
    ap.add_argument("--table", metavar="DIR", help="print the tables of a bench/attention_table.sh run in DIR")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.flops:
        flops_table(sizes)
        return
    if args.table:
        print_table(args.table)
        return
    if not args.out:
        raise SystemExit("--out DIR is needed (weights and torch_attention.jsonl go there)")
    import torch
    sys.path.insert(0, HERE)
    from torch_models import save_safetensors
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "torch_attention.jsonl"), "a")
    dev = args.device
    precisions = ["f32"] + (["bf16"] if args.bf16 else [])
    print(f"torch {torch.__version__}, {dev}, {torch.get_num_threads()} threads", flush=True)
    for size in sizes:
        for name in args.models.split(","):
            m = build(name, size, args.ref)
            if not args.no_weights:
                save_safetensors(os.path.join(args.out, f"{name}_{size}.safetensors"), m.state_dict(), ARCH[name],
                                 config=f"img_size={size}")
            m = m.to(dev)
            L = (size // PATCH) ** 2 + 1
            attn = m.blocks[0].attn
            for batch in map(int, args.batches.split(",")):
                x = torch.randn(batch, 3, size, size, device=dev)
                h = torch.randn(batch, L, C, device=dev)  # a block's input after norm1
                for prec in precisions:
                    ac = torch.autocast(dev, dtype=torch.bfloat16, enabled=prec == "bf16")
                    with torch.no_grad(), ac:
                        full = timed(lambda: m(x), dev, args.iters)
                        a = timed(lambda: attn(h), dev, args.iters)
                        lin = timed(lambda: (attn.qkv(h), attn.proj(h)), dev, args.iters)
                    rec = dict(model=name, size=size, batch=batch, device=dev, precision=prec,
                               forward_ms=1e3 * full, attn_ms=1e3 * DEPTH * a, linears_ms=1e3 * DEPTH * lin,
                               threads=torch.get_num_threads(), torch=torch.__version__)
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    print(f"torch {name:12s} {dev} {prec} size {size} batch {batch:3d}: forward {1e3 * full:9.2f} ms "
                          f"({batch / full:8.1f} img/s); attention x12 {1e3 * DEPTH * a:9.2f} ms, of which qkv+proj "
                          f"Linears {1e3 * DEPTH * lin:8.2f} ms", flush=True)
            m = attn = None  # free the model before the next one
            if dev == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
