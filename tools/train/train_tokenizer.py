#!/usr/bin/env python3
"""Train seer's CIFAR-10 VQ tokenizer (tools/torch_ref/vqgan.py, 32 x 32 -> 8 x 8 tokens) on a GPU.

    tools/train/train_tokenizer.py --budget-s 210 --out-dir .gpu/train
    tools/train/train_tokenizer.py --device cpu --max-steps 3 --subset 256 --batch 32 --out-dir /tmp/t

Objective: L1 + L2 on [0, 1] pixels, a perceptual term on the features of the pretrained
CIFAR ResNet-56 (shared/data/weights/resnet-cifar10; layer1..3 outputs, unit-normalized per
position over channels as LPIPS does, squared distance), and the commitment term
beta |z - sg(e)|^2. The codebook is an EMA k-means codebook (decay 0.99, Laplace-smoothed
counts) started from encoder outputs, and codes whose usage falls below --dead-usage of the
uniform share are restarted on random encoder outputs of the current batch, so (nearly)
all codes stay in use. The quantizer is seer's: argmin of the L2 distance in the encoder's
32-dim output space (embed_dim = z_channels: a low-dimensional lookup).
Data: the train pack (tools/train/pack_cifar.py), decoded once to the device; random
horizontal flips (no crops: the generator is trained on uncropped images).
Schedule: AdamW, warm-up + cosine over a wall-clock budget (progress = training seconds /
budget) or --max-steps; bf16 autocast on CUDA. A resumable checkpoint every --ckpt-every-s.
Output: OUT_DIR/vq_cifar.safetensors (F16 unless --f32), loadable by `seer tokenize --weights`
with `--size 32`, and found by `seer generate` through the generator's enat.tokenizer; its
seer.trained metadata holds the test reconstruction PSNR, code usage and the ResNet-56
top-1 on originals vs reconstructions.
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from cifar_data import load_cifar, normalize  # noqa: E402
from common import lr_at, save_ckpt  # noqa: E402
from torch_ref import vqgan  # noqa: E402
from torch_ref.export import export_seer  # noqa: E402
from torch_ref.resnet_cifar import ResNetCifar  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--train-pack", default=".data/cifar10-train.pack")
    ap.add_argument("--test-pack", default=".data/cifar10-test.pack")
    ap.add_argument("--resnet", default=None, help="ResNet-56 .th (default: shared/data/weights/...)")
    ap.add_argument("--budget-s", type=float, default=210, help="wall-clock training budget")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after N steps (smoke tests)")
    ap.add_argument("--subset", type=int, default=None, help="train on N random images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-amp", action="store_true", help="train in float32")
    ap.add_argument("--compile", action="store_true", help="torch.compile the encoder and decoder")
    ap.add_argument("--ckpt-every-s", type=float, default=60)
    ap.add_argument("--f32", action="store_true", help="export F32 instead of F16")
    # model (defaults: tools/torch_ref/vqgan.py CIFAR)
    ap.add_argument("--ch", type=int, default=vqgan.CIFAR["ch"])
    ap.add_argument("--ch-mult", default=",".join(str(m) for m in vqgan.CIFAR["ch_mult"]))
    ap.add_argument("--num-res-blocks", type=int, default=vqgan.CIFAR["num_res_blocks"])
    ap.add_argument("--z-channels", type=int, default=vqgan.CIFAR["z_channels"])
    ap.add_argument("--n-embed", type=int, default=vqgan.CIFAR["n_embed"])
    # optimization
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--warmup", type=float, default=0.03, help="share of the run")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--w-l1", type=float, default=1.0)
    ap.add_argument("--w-l2", type=float, default=1.0)
    ap.add_argument("--w-perceptual", type=float, default=0.5)
    ap.add_argument("--beta", type=float, default=0.25, help="commitment weight")
    ap.add_argument("--ema-decay", type=float, default=0.99)
    ap.add_argument("--dead-usage", type=float, default=0.03,
                    help="restart codes whose EMA usage is below this share of uniform usage")
    return ap.parse_args()


def find_resnet(path):
    if path:
        return path
    for root in (os.path.join(REPO, "..", "shared"), os.path.join(REPO, "shared")):
        hits = sorted(glob.glob(os.path.join(root, "data", "weights", "resnet-cifar10", "resnet56-*.th")))
        if hits:
            return hits[0]
    raise SystemExit("no ResNet-56 checkpoint found: give --resnet or --w-perceptual 0")


def load_resnet56(path, dev):
    """The pretrained CIFAR ResNet-56 (frozen, eval mode), read without torch.load's pickle."""
    import seer_st
    sd = seer_st.load_torch_checkpoint(path)
    sd = sd.get("state_dict", sd)
    net = ResNetCifar(56)
    net.load_state_dict({k[len("module."):] if k.startswith("module.") else k: torch.from_numpy(v)
                         for k, v in sd.items()})
    net.eval().requires_grad_(False)
    return net.to(dev)


def resnet_features(net, x):
    """layer1..3 outputs of the ResNet for images x in [0, 1]."""
    h = F.relu(net.bn1(net.conv1(normalize(x))))
    feats = []
    for layer in (net.layer1, net.layer2, net.layer3):
        h = layer(h)
        feats.append(h)
    return feats


def perceptual(net, x, y):
    """LPIPS-style distance without learned weights: per position, channel vectors scaled to
    unit length; squared difference summed over channels, averaged over positions and layers."""
    total = 0.0
    with torch.no_grad():
        fy = resnet_features(net, y)
    for a, b in zip(resnet_features(net, x), fy):
        a = a.float() / (a.float().norm(dim=1, keepdim=True) + 1e-6)
        b = b.float() / (b.float().norm(dim=1, keepdim=True) + 1e-6)
        total = total + (a - b).pow(2).sum(1).mean()
    return total / 3


class EmaCodebook:
    """EMA k-means updates of model.quantize.embedding (not an optimizer parameter) and
    restarts of unused codes (as Jukebox's bottleneck): a code whose EMA usage falls below
    dead_usage of the uniform share is moved onto a random encoder output of the batch, at the
    threshold usage, and moved again every step until data keeps it above the threshold.
    State: counts [K] and sums [K, d], float32."""

    def __init__(self, model, decay, dead_usage):
        w = model.quantize.embedding.weight
        w.requires_grad_(False)
        self.weight, self.decay, self.dead_usage = w, decay, dead_usage
        self.counts = torch.zeros(w.shape[0], device=w.device)
        self.sums = torch.zeros_like(w, dtype=torch.float32)
        self.started = False

    def state_dict(self):
        return {"counts": self.counts, "sums": self.sums, "started": self.started}

    def load_state_dict(self, s):
        self.counts.copy_(s["counts"])
        self.sums.copy_(s["sums"])
        self.started = s["started"]

    def threshold(self, n_tokens):
        return self.dead_usage * n_tokens / self.weight.shape[0]

    @torch.no_grad()
    def start(self, z_flat, gen):
        """Codes = random encoder outputs (plus a little noise), usage = the threshold."""
        K = self.weight.shape[0]
        pick = torch.randint(0, z_flat.shape[0], (K,), device=z_flat.device, generator=gen)
        init = z_flat[pick] + 0.01 * z_flat.std() * torch.randn(K, z_flat.shape[1], device=z_flat.device,
                                                               generator=gen)
        self.weight.copy_(init)
        self.counts.fill_(self.threshold(z_flat.shape[0]))
        self.sums.copy_(init * self.counts[:, None])
        self.started = True

    @torch.no_grad()
    def update(self, z_flat, ids, gen):
        """One EMA step with this batch's latents z_flat [N, d] (float32) and their codes;
        returns the number of codes restarted."""
        K = self.weight.shape[0]
        n = torch.bincount(ids, minlength=K).float()
        s = torch.zeros_like(self.sums).index_add_(0, ids, z_flat)
        self.counts.mul_(self.decay).add_(n, alpha=1 - self.decay)
        self.sums.mul_(self.decay).add_(s, alpha=1 - self.decay)
        total = self.counts.sum()
        smoothed = (self.counts + 1e-5) / (total + K * 1e-5) * total
        self.weight.copy_(self.sums / smoothed[:, None])
        thr = self.threshold(z_flat.shape[0])
        dead = self.counts < thr
        n_dead = int(dead.sum())
        if n_dead:
            pick = torch.randint(0, z_flat.shape[0], (n_dead,), device=z_flat.device, generator=gen)
            fresh = z_flat[pick]
            self.weight[dead] = fresh
            self.counts[dead] = thr
            self.sums[dead] = fresh * thr
        return n_dead


def flip_batches(images, batch, gen):
    """One epoch of shuffled batches, float [B, 3, 32, 32] in [0, 1], random horizontal flips."""
    n = images.shape[0]
    perm = torch.randperm(n, device=images.device, generator=gen)
    for i in range(0, n - n % batch, batch):
        x = images[perm[i:i + batch]].permute(0, 3, 1, 2).float().div_(255)
        flip = torch.rand(x.shape[0], device=x.device, generator=gen) < 0.5
        yield torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


@torch.no_grad()
def evaluate(model, resnet, images, labels):
    """F32 on test images: 8-bit PSNR of the clamped reconstructions, codes used, code
    perplexity, ResNet-56 top-1 on the originals and on the reconstructions."""
    model.eval()
    se, n_px, used, hits_o, hits_r = 0.0, 0, [], 0, 0
    K = model.config["n_embed"]
    for i in range(0, images.shape[0], 500):
        x = images[i:i + 500].permute(0, 3, 1, 2).float().div(255)
        _, ids = model.encode(x)
        rec = model.decode(ids)
        rec8 = (rec * 255 + 0.5).clamp(0, 255).floor()  # what seer writes
        se += (rec8 - x * 255).pow(2).sum().item()
        n_px += x.numel()
        used.append(ids.flatten())
        if resnet is not None:
            y = labels[i:i + 500]
            hits_o += (resnet(normalize(x)).argmax(1) == y).sum().item()
            hits_r += (resnet(normalize(rec8 / 255)).argmax(1) == y).sum().item()
    ids = torch.cat(used)
    p = torch.bincount(ids, minlength=K).float() / ids.numel()
    perplexity = math.exp(-(p[p > 0] * p[p > 0].log()).sum().item())
    model.train()
    n = images.shape[0]
    return {"psnr_8bit": round(10 * math.log10(255 ** 2 / (se / n_px)), 3),
            "codes_used": int((p > 0).sum()), "code_perplexity": round(perplexity, 1),
            "resnet56_top1_original": round(hits_o / n, 4) if resnet is not None else None,
            "resnet56_top1_reconstructed": round(hits_r / n, 4) if resnet is not None else None}


def main():
    a = parse()
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    amp = not a.no_amp and dev.type == "cuda"
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    os.makedirs(a.out_dir, exist_ok=True)
    cfg = dict(ch=a.ch, ch_mult=tuple(int(m) for m in a.ch_mult.split(",")), num_res_blocks=a.num_res_blocks,
               z_channels=a.z_channels, n_embed=a.n_embed, embed_dim=a.z_channels)
    model = vqgan.VQModel(**cfg).to(dev).to(memory_format=torch.channels_last)
    codebook = EmaCodebook(model, a.ema_decay, a.dead_usage)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.99), **({"fused": True} if dev.type == "cuda" else {}))
    resnet = load_resnet56(find_resnet(a.resnet), dev) if a.w_perceptual > 0 else None
    enc, dec = model.encoder, model.decoder
    if a.compile:
        enc, dec = torch.compile(enc), torch.compile(dec)

    t0 = time.time()
    images, labels = load_cifar(a.train_pack, dev)
    if a.subset:
        keep = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(a.seed))[:a.subset]
        images, labels = images[keep.to(dev)], labels[keep.to(dev)]
    have_test = os.path.exists(a.test_pack)
    if not have_test:
        print(f"[tokenizer] no {a.test_pack}: no test evaluation", flush=True)
    test_x, test_y = load_cifar(a.test_pack, dev) if have_test else (None, None)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"[tokenizer] {n_params / 1e6:.2f}M params, config {cfg}, {images.shape[0]} train images "
          f"decoded in {time.time() - t0:.1f}s, args {json.dumps(vars(a))}", flush=True)

    ckpt = os.path.join(a.out_dir, "vq_cifar.ckpt")
    step, epoch, trained_s = 0, 0, 0.0
    gen = torch.Generator(device=dev).manual_seed(a.seed)
    if os.path.exists(ckpt):
        s = torch.load(ckpt, map_location=dev)
        model.load_state_dict(s["model"])
        opt.load_state_dict(s["opt"])
        codebook.load_state_dict(s["codebook"])
        step, epoch, trained_s = s["step"], s["epoch"], s["trained_s"]
        gen.manual_seed(a.seed + 1000 * epoch)
        print(f"[tokenizer] resumed at epoch {epoch}, step {step}, {trained_s:.0f}s", flush=True)

    def progress():
        # --max-steps (smoke tests) replaces the time budget
        return step / a.max_steps if a.max_steps else trained_s / a.budget_s

    def checkpoint():
        save_ckpt(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "codebook": codebook.state_dict(),
                         "step": step, "epoch": epoch, "trained_s": trained_s, "config": cfg})

    last_ckpt = time.time()
    done = progress() >= 1
    while not done:
        t_epoch, seen, sums, sampled, restarts = time.time(), 0, {}, 0, 0
        mark = time.time()
        for x in flip_batches(images, a.batch, gen):
            for g in opt.param_groups:
                g["lr"] = lr_at(progress(), a.lr, a.warmup)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                z = enc(x)
                z_flat = z.detach().float().permute(0, 2, 3, 1).reshape(-1, z.shape[1])
                if not codebook.started:
                    codebook.start(z_flat, gen)
                ids = model.quantize.ids(z.detach())
                e = model.quantize.lookup(ids).to(z.dtype)
                commit = F.mse_loss(z.float(), e.float())
                rec = dec(z + (e - z).detach())
                l1 = (rec.float() - x).abs().mean()
                l2 = (rec.float() - x).pow(2).mean()
                loss = a.w_l1 * l1 + a.w_l2 * l2 + a.beta * commit
                perc = perceptual(resnet, rec, x) if resnet is not None else torch.zeros((), device=dev)
                loss = loss + a.w_perceptual * perc
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if a.clip:
                torch.nn.utils.clip_grad_norm_(params, a.clip)
            opt.step()
            restarts += codebook.update(z_flat, ids.flatten(), gen)
            step += 1
            seen += x.shape[0]
            if step % 10 == 0 or a.max_steps:  # .item() syncs the GPU: not every step
                for k, v in (("loss", loss), ("l1", l1), ("l2", l2), ("perc", perc), ("commit", commit)):
                    sums[k] = sums.get(k, 0.0) + v.item()
                sampled += 1
            now = time.time()
            trained_s += now - mark
            mark = now
            if now - last_ckpt > a.ckpt_every_s:
                checkpoint()
                last_ckpt = mark = time.time()
            if progress() >= 1 or (a.max_steps and step >= a.max_steps):
                done = True
                break
        epoch += 1
        dt = time.time() - t_epoch
        avg = " ".join(f"{k} {v / max(sampled, 1):.4f}" for k, v in sums.items())
        used = int((codebook.counts >= codebook.threshold(z_flat.shape[0])).sum())
        print(f"[tokenizer] epoch {epoch} step {step} progress {min(progress(), 1):.3f} {avg} "
              f"codes~{used} restarts {restarts} {seen / dt:.0f} img/s lr {opt.param_groups[0]['lr']:.2e}",
              flush=True)

    checkpoint()
    model.eval()
    stats = evaluate(model, resnet, test_x, test_y) if have_test else None
    print(f"[tokenizer] done: {epoch} epochs, {step} steps, {trained_s:.0f}s training; test (f32) "
          f"{json.dumps(stats)}", flush=True)
    meta = vqgan.cifar_metadata(model)
    meta["seer.trained"] = json.dumps({"epochs": epoch, "steps": step, "seed": a.seed, "trained_s": round(trained_s),
                                       "args": vars(a), "test": stats, "params": n_params,
                                       "script": "tools/train/train_tokenizer.py"})
    out = os.path.join(a.out_dir, "vq_cifar.safetensors")
    export_seer(model, out, meta, half=not a.f32)
    print(f"[tokenizer] wrote {out}", flush=True)


if __name__ == "__main__":
    main()
