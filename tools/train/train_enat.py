#!/usr/bin/env python3
"""Train seer's CIFAR-10 ENAT generator (tools/torch_ref/enat.py) over the 8 x 8 tokens of the
CIFAR tokenizer (tools/train/train_tokenizer.py) on a GPU.

    tools/train/train_enat.py --tokenizer .gpu/train/vq_cifar.safetensors --budget-s 300 --out-dir .gpu/train
    tools/train/train_enat.py --device cpu --max-steps 3 --subset 256 --batch 32 --tokenizer T --out-dir /tmp/e

Data: the train pack decoded once to the device and tokenized once (F32, seer's argmin) with
the exported tokenizer, each image and its mirror image (100,000 token grids).
Objective (ENAT's train.py LSimple / NATSchedule): one masking ratio per batch (--mask-dist:
MaskGIT's cosine schedule, the default, or ENAT's Beta(12, 3)), round(64 r) random positions
masked per grid (at least 1, at most 63); cross-entropy with label smoothing 0.1 on the masked
positions; labels dropped to the null class with probability 0.1 (classifier-free guidance);
with probability 0.5 the batch also trains the reuse path: the EMA model encodes a 'previous
step' with extra positions masked, and the model reads its features through prev_proj (as
seer's sampler does at every step after the first). Labels are dropped once per batch, outside
the model, so the previous step and the current one see the same label (the reference draws
the drop inside the model for the current step only). --dropout P (not ENAT's) also drops the
blocks' attention and MLP outputs, a regulariser for larger generators.
Schedule: AdamW, warm-up + cosine over a wall-clock budget (or --max-steps), bf16 autocast on
CUDA, eager (torch.compile of the blocks with dynamic shapes, tried on 2026-12-04, spent a
minute recompiling at batch 1,024), EMA of the weights (exported). A resumable checkpoint every
--ckpt-every-s; --stop-at-s ends a command inside a longer schedule (the next resumes it);
--init FILE starts a new schedule from an exported file (a warm restart, for a later device
session); with more --depth-enc/--depth-dec than the file has (same --hidden and --heads), the
file's blocks are spread over the deeper model and the others start as the identity
(tools/torch_ref/enat.py `grow_into`): a larger generator that begins where the smaller one ended.
The per-batch scalars come from a CPU generator, so the step waits on the device only where the
model reads its masked counts; at batch 4,096 the H200 trains about 50,000 grids/s.
Sampler defaults: after training, a small sweep of guidance and sampling temperature with
seer's sampler (--steps steps, --sweep-per-class images per class, decoded by the tokenizer)
scored by the pretrained ResNet-56: top-1 of the prompted class and the Frechet distance of its 64-dim
features to the real training images; the setting with the lowest distance among those within
0.05 of the best top-1 is written as the file's defaults (enat.cfg, enat.samp_temp, ...).
Output: OUT_DIR/enat_cifar.safetensors (F16 unless --f32): `seer generate --model enat_cifar`
(or --weights FILE) loads it and finds vq_cifar.safetensors through its enat.tokenizer.
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from cifar_data import load_cifar, normalize  # noqa: E402
from torch_ref import enat, vqgan  # noqa: E402
from torch_ref.export import export_seer  # noqa: E402
from common import lr_at, save_ckpt  # noqa: E402
from train_tokenizer import find_resnet, load_resnet56  # noqa: E402


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--tokenizer", default=None, help="default: OUT_DIR/vq_cifar.safetensors")
    ap.add_argument("--train-pack", default=".data/cifar10-train.pack")
    ap.add_argument("--resnet", default=None, help="ResNet-56 .th for the sampler sweep")
    ap.add_argument("--budget-s", type=float, default=300, help="wall-clock training budget")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after N steps (smoke tests)")
    ap.add_argument("--subset", type=int, default=None, help="train on N random images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-amp", action="store_true", help="train in float32")
    ap.add_argument("--ckpt-every-s", type=float, default=60)
    ap.add_argument("--stop-at-s", type=float, default=None,
                    help="stop (checkpoint and export) after this many training seconds of the "
                         "--budget-s schedule; a later run with the same budget resumes it")
    ap.add_argument("--init", default=None,
                    help="start from the weights of this seer ENAT file (F16, F32 or int8; its model "
                         "size unless --hidden etc. are given; more --depth-enc/--depth-dec at the same "
                         "hidden size grows it; a new schedule)")
    ap.add_argument("--f32", action="store_true", help="export F32 instead of F16")
    # model (defaults: the --init file's configuration, else tools/torch_ref/enat.py CIFAR)
    ap.add_argument("--hidden", type=int, default=None)
    ap.add_argument("--heads", type=int, default=None)
    ap.add_argument("--depth-enc", type=int, default=None)
    ap.add_argument("--depth-dec", type=int, default=None)
    # optimization
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=8e-4)
    ap.add_argument("--wd", type=float, default=0.03)
    ap.add_argument("--warmup", type=float, default=0.05, help="share of the run")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--label-drop", type=float, default=0.1)
    ap.add_argument("--smoothing", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.0,
                    help="dropout of every block's attention and MLP outputs (ENAT: none); a "
                         "regulariser for larger generators, training only")
    ap.add_argument("--reuse-prob", type=float, default=0.5)
    ap.add_argument("--mask-dist", choices=["cosine", "beta"], default="cosine")
    # sampler defaults written to the file
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--cfg", type=float, default=None, help="skip the sweep: use these settings")
    ap.add_argument("--samp-temp", type=float, default=None)
    ap.add_argument("--mask-temp", type=float, default=1.5)
    ap.add_argument("--sweep-per-class", type=int, default=100)
    return ap.parse_args()


@torch.no_grad()
def tokenize(tok, images, batch=1000, mirror=True):
    """uint8 [N, 32, 32, 3] -> token grids of the images and of their mirror images [2N, 64]
    (without the mirror images with mirror=False: [N, 64])."""
    out = []
    for flip in (False, True) if mirror else (False,):
        for i in range(0, images.shape[0], batch):
            x = images[i:i + batch].permute(0, 3, 1, 2).float().div(255)
            _, ids = tok.encode(x.flip(3) if flip else x)
            out.append(ids.reshape(ids.shape[0], -1))
    return torch.cat(out)


@torch.no_grad()
def ema_update(ema, model, decay):
    e, m = list(ema.parameters()), [p.detach() for p in model.parameters()]
    if hasattr(torch, "_foreach_lerp_"):  # one fused launch per group of tensors
        torch._foreach_lerp_(e, m, 1 - decay)
    else:  # torch 1.13 (this machine's)
        for x, y in zip(e, m):
            x.lerp_(y, 1 - decay)


def train_step(model, ema, tokens, labels, a, gen, sgen, amp):
    """One batch of ENAT's objective; returns (loss, masked share). The per-batch scalars (the
    masking ratio, whether the reuse path trains, its extra share) come from the CPU generator
    sgen and the per-token draws from gen on the device: the step itself reads nothing back."""
    B, L = tokens.shape
    V, C = model.V, model.config["num_classes"]
    dev = tokens.device
    ratio = enat.mask_ratio(a.mask_dist, "cpu", sgen)
    masking = enat.sample_masking(B, L, dev, ratio, gen)
    ids = torch.where(masking, torch.full_like(tokens, V), tokens)
    drop = torch.rand(B, device=dev, generator=gen) < a.label_drop
    labels = torch.where(drop, torch.full_like(labels, C), labels)
    prev = None
    reuse, u = torch.rand(2, generator=sgen).tolist()
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
        if reuse < a.reuse_prob:
            with torch.no_grad():
                n_visible = L - enat.masked_count(L, ratio)
                prev_masking = enat.more_masked(masking, n_visible, u, gen)
                prev = ema(torch.where(prev_masking, torch.full_like(tokens, V), tokens), labels)
        logits = model(ids, labels, prev)["logits"]
    # the mean over the masked positions, without selecting them (a selection waits for the device)
    ce = F.cross_entropy(logits.float().flatten(0, 1), tokens.flatten(), label_smoothing=a.smoothing,
                         reduction="none")
    w = masking.flatten().float()
    return (ce * w).sum() / w.sum(), w.mean()


def frechet(mu1, s1, mu2, s2):
    """|mu1 - mu2|^2 + tr(s1 + s2 - 2 (s1^1/2 s2 s1^1/2)^1/2), symmetric square roots by eigh."""
    def sqrt_psd(m):
        w, v = np.linalg.eigh((m + m.T) / 2)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    r1 = sqrt_psd(s1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(sqrt_psd(r1 @ s2 @ r1)))


@torch.no_grad()
def resnet_stats(resnet, x):
    """ResNet-56 (logits, 64-dim features) of images x [N, 3, 32, 32] in [0, 1]."""
    f = resnet.features(normalize(x))
    return resnet.linear(f), f


@torch.no_grad()
def default_settings(a):
    """The sampler settings the training script sweeps: the given ones, or guidance x temperature."""
    pairs = ([(a.cfg, a.samp_temp if a.samp_temp is not None else 6.0)] if a.cfg is not None
             else [(w, t) for w in (1.0, 2.0, 3.0, 4.5) for t in (1.0, 3.0, 6.0)])
    return [{"steps": a.steps, "cfg": w, "samp_temp": t, "mask_temp": a.mask_temp} for w, t in pairs]


@torch.no_grad()
def sweep(model, tok, resnet, images, settings, per_class, dev, guide=None):
    """Scores of sampler settings (dicts of steps, cfg, samp_temp, mask_temp and optionally
    guide_w, the weight of guide; see the module doc) with per_class images of each class;
    returns (best setting, table)."""
    feats = []
    for i in range(0, images.shape[0], 2000):
        feats.append(resnet_stats(resnet, images[i:i + 2000].permute(0, 3, 1, 2).float().div(255))[1].double())
    real = torch.cat(feats).cpu().numpy()
    mu_r, s_r = real.mean(0), np.cov(real, rowvar=False)
    C, g = model.config["num_classes"], model.config["grid"]
    labels = torch.arange(C, device=dev).repeat_interleave(per_class)
    gen = torch.Generator(device=dev).manual_seed(1234)
    table = []
    amp = torch.bfloat16 if dev.type == "cuda" else None
    for st in settings:
        t0 = time.time()
        ids = []
        for i in range(0, labels.shape[0], 500):
            ids.append(enat.generate(model, labels[i:i + 500], steps=st["steps"], cfg=st["cfg"],
                                     mask_temp=st["mask_temp"], samp_temp=st["samp_temp"], generator=gen,
                                     autocast_dtype=amp, guide=guide, guide_w=st.get("guide_w", 0.0)))
        ids = torch.cat(ids).reshape(-1, g, g)
        x = torch.cat([tok.decode(ids[i:i + 500]) for i in range(0, ids.shape[0], 500)])
        x = (x * 255 + 0.5).floor().clamp(0, 255) / 255  # the 8-bit PNG seer writes
        logits, f = resnet_stats(resnet, x)
        top1 = (logits.argmax(1) == labels).float().mean().item()
        f = f.double().cpu().numpy()
        fd = frechet(f.mean(0), np.cov(f, rowvar=False), mu_r, s_r)
        row = {"cfg": st["cfg"], "samp_temp": st["samp_temp"], "mask_temp": st["mask_temp"], "steps": st["steps"],
               **({"guide_w": st["guide_w"]} if st.get("guide_w") else {}),
               "resnet56_top1": round(top1, 4), "resnet56_fd": round(fd, 3)}
        table.append(row)
        print(f"[enat] sampler {json.dumps(row)} ({time.time() - t0:.1f}s)", flush=True)
    best_top1 = max(r["resnet56_top1"] for r in table)
    best = min((r for r in table if r["resnet56_top1"] >= best_top1 - 0.05), key=lambda r: r["resnet56_fd"])
    return best, table


def main():
    a = parse()
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    amp = not a.no_amp and dev.type == "cuda"
    os.makedirs(a.out_dir, exist_ok=True)
    tok_path = a.tokenizer or os.path.join(a.out_dir, "vq_cifar.safetensors")
    tok, tok_meta = vqgan.from_seer_file(tok_path, dev)
    tok.requires_grad_(False)
    t0 = time.time()
    images, labels = load_cifar(a.train_pack, dev)
    if a.subset:
        keep = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(a.seed))[:a.subset]
        images, labels = images[keep.to(dev)], labels[keep.to(dev)]
    tokens = tokenize(tok, images)
    tok_labels = torch.cat([labels, labels])
    V = tok.config["n_embed"]
    used = int(torch.bincount(tokens.flatten(), minlength=V).gt(0).sum())
    grid = int(math.isqrt(tokens.shape[1]))
    print(f"[enat] {tokens.shape[0]} token grids ({grid} x {grid}, {used} of {V} codes used) from "
          f"{tok_path} in {time.time() - t0:.1f}s", flush=True)

    try:
        init = enat.from_seer_file(a.init, device=dev)[0] if a.init else None
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"--init {a.init}: not a readable seer ENAT file ({e})")
    base = init.config if init is not None else enat.CIFAR
    size = {k: getattr(a, k) if getattr(a, k) is not None else base[k]
            for k in ("hidden", "heads", "depth_enc", "depth_dec")}
    cfg = dict(grid=grid, **size, codebook_size=V, num_classes=10)
    model = enat.ENAT(**cfg, block_dropout=a.dropout).to(dev)
    model.y_embedder.dropout_prob = 0.0  # labels are dropped in train_step (see the module doc)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98), **({"fused": True} if dev.type == "cuda" else {}))
    print(f"[enat] {n_params / 1e6:.2f}M params, config {cfg}, args {json.dumps(vars(a))}", flush=True)

    ckpt = os.path.join(a.out_dir, "enat_cifar.ckpt")
    step, trained_s = 0, 0.0
    gen = torch.Generator(device=dev).manual_seed(a.seed)
    sgen = torch.Generator().manual_seed(a.seed + 1)
    if init is not None and not os.path.exists(ckpt):
        deeper = (size["depth_enc"], size["depth_dec"]) != (base["depth_enc"], base["depth_dec"])
        try:  # deeper than the file: it grown (the same function until trained)
            enat.grow_into(model, init) if deeper else model.load_state_dict(init.state_dict())
        except (RuntimeError, ValueError) as e:
            raise SystemExit(f"--init {a.init}: not this configuration's weights ({e})")
        ema.load_state_dict(model.state_dict())
        grown = (f", grown from {base['depth_enc']}+{base['depth_dec']} to {size['depth_enc']}+{size['depth_dec']} "
                 "blocks (new blocks start as the identity)") if deeper else ""
        print(f"[enat] weights from {a.init}{grown}", flush=True)
    if os.path.exists(ckpt):
        s = torch.load(ckpt, map_location=dev)
        model.load_state_dict(s["model"])
        ema.load_state_dict(s["ema"])
        opt.load_state_dict(s["opt"])
        step, trained_s = s["step"], s["trained_s"]
        gen.manual_seed(a.seed + step)
        sgen.manual_seed(a.seed + 1 + step)
        print(f"[enat] resumed at step {step}, {trained_s:.0f}s", flush=True)

    def progress():
        # --max-steps (smoke tests) replaces the time budget
        return step / a.max_steps if a.max_steps else trained_s / a.budget_s

    def checkpoint():
        save_ckpt(ckpt, {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                         "step": step, "trained_s": trained_s, "config": cfg})

    model.train()
    last_ckpt = last_log = mark = time.time()
    loss_sum, n_log, seen = 0.0, 0, 0
    N = tokens.shape[0]
    while progress() < 1 and not (a.max_steps and step >= a.max_steps) and \
            not (a.stop_at_s and trained_s >= a.stop_at_s):
        idx = torch.randint(0, N, (a.batch,), device=dev, generator=gen)
        for g in opt.param_groups:
            g["lr"] = lr_at(progress(), a.lr, a.warmup)
        loss, _ = train_step(model, ema, tokens[idx], tok_labels[idx], a, gen, sgen, amp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        ema_update(ema, model, min(a.ema, (1 + step) / (10 + step)))
        step += 1
        seen += a.batch
        if step % 20 == 0 or a.max_steps:
            loss_sum += loss.item()
            n_log += 1
        now = time.time()
        trained_s += now - mark
        mark = now
        if now - last_log > 15 or (a.max_steps and step >= a.max_steps):
            print(f"[enat] step {step} progress {min(progress(), 1):.3f} loss~{loss_sum / max(n_log, 1):.4f} "
                  f"{seen / (now - last_log):.0f} grids/s lr {opt.param_groups[0]['lr']:.2e}", flush=True)
            loss_sum, n_log, seen, last_log = 0.0, 0, 0, now
        if now - last_ckpt > a.ckpt_every_s:
            checkpoint()
            last_ckpt = mark = time.time()
    checkpoint()
    print(f"[enat] trained {step} steps in {trained_s:.0f}s", flush=True)

    ema.eval()
    try:
        resnet = load_resnet56(find_resnet(a.resnet), dev)
    except SystemExit as e:  # no classifier: no sweep, the given or ENAT's settings
        print(f"[enat] {e}; sampler defaults not swept", flush=True)
        resnet = None
    if resnet is not None:
        best, table = sweep(ema, tok, resnet, images, default_settings(a), a.sweep_per_class, dev)
    else:
        best = {"cfg": a.cfg if a.cfg is not None else 2.5, "mask_temp": a.mask_temp,
                "samp_temp": a.samp_temp if a.samp_temp is not None else 6.0}
        table = []
    print(f"[enat] sampler defaults: {json.dumps(best)}", flush=True)
    meta = enat.cifar_metadata(ema, steps=a.steps, cfg=best["cfg"], mask_temp=best["mask_temp"],
                               samp_temp=best["samp_temp"])
    meta["enat.tokenizer"] = os.path.splitext(os.path.basename(tok_path))[0]
    meta["seer.trained"] = json.dumps({"steps": step, "seed": a.seed, "trained_s": round(trained_s), "args": vars(a),
                                       "params": n_params, "tokenizer": tok_meta.get("seer.arch"),
                                       "sampler_sweep": table, "script": "tools/train/train_enat.py"})
    out = os.path.join(a.out_dir, "enat_cifar.safetensors")
    export_seer(ema, out, meta, half=not a.f32)
    print(f"[enat] wrote {out}", flush=True)


if __name__ == "__main__":
    main()
