#!/usr/bin/env python3
"""Train one of seer's shipped CIFAR-10 classifiers (tools/train/families.py) on a GPU.

    tools/train/train_classifier.py --family van --budget-s 480 --out-dir .gpu/train
    tools/train/train_classifier.py --family van --epochs 60 --out-dir .gpu/train   # fixed length

Data: packs made by tools/train/pack_cifar.py (default .data/cifar10-train.pack, test subset
.data/cifar10-test.pack), decoded once to the device and augmented there.
Schedule: AdamW + linear warm-up + cosine to zero over either a fixed number of epochs or a
wall-clock budget (--budget-s: progress = training seconds / budget, so a run shares a GPU with
other jobs and still ends on time; the steps it made are recorded in the exported metadata).
Training seconds leave out the steps that compile (the first, and the first after a dense/sparse
switch): torch.compile took up to 29% of a 360 s budget, and with it the whole warm-up.
A checkpoint is written every --ckpt-every-s seconds and a run resumes from it; --stop-at-s
ends a command early inside a longer --budget-s schedule (the next command resumes it).
--init FILE starts from the weights of an exported seer file of the same family (a new schedule
and a fresh optimizer: a warm restart; how a model trained in one device session goes on in the
next, since checkpoints live only as long as the GPU machine).
On CUDA the model runs through torch.compile (eager if compiling fails, or if the compiled
gradient of the first batch, and of the first after a dense/sparse switch, is not eager
PyTorch's: see compile_gradient_error). A step whose gradient is not finite is skipped and
counted: every epoch line and the final line say how many (`skipped_steps` in the metadata),
next to the gradient norm before clipping (median and largest of the sampled steps).
Output: OUT_DIR/<family>.safetensors (seer weights, F16 except BatchNorm statistics), written
atomically, loadable by `seer classify --weights` with no other flags.
"""
import argparse
import inspect
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from cifar_data import batches, load_cifar, normalize  # noqa: E402
from common import lr_at, save_ckpt  # noqa: E402
from families import HPARAMS, family  # noqa: E402
from torch_ref.export import export_seer  # noqa: E402


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--train-pack", default=".data/cifar10-train.pack")
    ap.add_argument("--test-pack", default=".data/cifar10-test.pack")
    ap.add_argument("--budget-s", type=float, default=None, help="wall-clock training budget")
    ap.add_argument("--epochs", type=int, default=None, help="fixed number of epochs instead")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after N steps (smoke tests)")
    ap.add_argument("--stop-at-s", type=float, default=None,
                    help="stop (checkpoint and export) after this many training seconds of the "
                         "--budget-s schedule; a later run with the same budget resumes it")
    ap.add_argument("--subset", type=int, default=None, help="train on N random images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-amp", action="store_true", help="train in float32")
    ap.add_argument("--no-compile", action="store_true",
                    help="eager PyTorch (default on CUDA: torch.compile, eager if it fails)")
    ap.add_argument("--ckpt-every-s", type=float, default=60)
    ap.add_argument("--init", default=None,
                    help="start from the weights of this seer .safetensors (same family)")
    for k, v in HPARAMS["van"].items():  # every family has the same keys
        ap.add_argument(f"--{k}", type=type(v), default=None)
    a = ap.parse_args()
    if (a.budget_s is None) == (a.epochs is None):
        ap.error("give exactly one of --budget-s and --epochs")
    hp = dict(HPARAMS[a.family])
    for k in hp:
        if getattr(a, k) is not None:
            hp[k] = getattr(a, k)
    return a, hp


@torch.no_grad()
def evaluate(model, images, labels, amp):
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], 500):
        x = normalize(images[i:i + 500].permute(0, 3, 1, 2).float().div(255))
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x.contiguous(memory_format=torch.channels_last))
        correct += (logits.argmax(1) == labels[i:i + 500]).sum().item()
    model.train()
    return correct / images.shape[0]


def load_init(model, path):
    """Load an exported seer file (F16 or F32; tools/torch_ref/export.py) into `model`: every
    parameter and buffer must be there with its shape (BatchNorm's step counters excepted).
    -> the file's own training record (its `seer.trained`, parsed; None if it has none), which
    the new file keeps as `init_trained` so that its whole history stays with it."""
    import seer_st
    arrays, meta = seer_st.read_safetensors(path)
    own = model.state_dict()
    missing = [k for k in own if k not in arrays and not k.endswith("num_batches_tracked")]
    extra = [k for k in arrays if k not in own]
    wrong = [k for k in arrays if k in own and tuple(arrays[k].shape) != tuple(own[k].shape)]
    if missing or extra or wrong:
        raise SystemExit(f"--init {path}: not this model's weights (missing {missing[:3]}, "
                         f"unexpected {extra[:3]}, wrong shape {wrong[:3]})")
    with torch.no_grad():
        for k, a in arrays.items():
            own[k].copy_(torch.from_numpy(a.astype("float32")))  # copy_ casts and moves
    return json.loads(meta["seer.trained"]) if "seer.trained" in meta else None


def count_flops(model, dev):
    """Forward FLOPs of one 32x32 image (torch's FlopCounterMode: matmuls, convs and attention,
    2 per multiply-add; None on torch versions without it)."""
    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return None
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(torch.zeros(1, 3, 32, 32, device=dev))
        return fc.get_total_flops()
    except Exception as e:  # a counter failure must not cost the training run
        print(f"FLOP count failed: {e}", flush=True)
        return None
    finally:
        model.train()


def cutmix(x, y, gen):
    """CutMix (Yun et al. 2019) of the batch with its reversal: one box per batch, area share
    1 - lam with lam ~ U(0, 1) (Beta(1, 1)). -> mixed x, the second labels, the exact lam."""
    B, _, H, W = x.shape
    lam = torch.rand((), generator=gen, device=x.device).item()
    ch, cw = int(H * (1 - lam) ** 0.5), int(W * (1 - lam) ** 0.5)
    cy = torch.randint(0, H, (), generator=gen, device=x.device).item()
    cx = torch.randint(0, W, (), generator=gen, device=x.device).item()
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch - ch // 2, H)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw - cw // 2, W)
    x = x.clone()
    x[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
    return x, y.flip(0), 1 - (y1 - y0) * (x1 - x0) / (H * W)


def compiled(model, enabled):
    """torch.compile(model) where torch has it and `enabled`; else the model itself. Random ops
    take eager PyTorch's random stream (inductor's fallback_random), so that the compiled model
    can be checked against eager on the same batch (compile_gradient_error)."""
    if not enabled or not hasattr(torch, "compile"):
        return model
    from torch._inductor import config as inductor_config
    inductor_config.fallback_random = True
    return torch.compile(model)


def batch_loss(net, model, x, y, y2, lam, smoothing, amp):
    """Training loss of one batch through `net` (the model or its compiled form) -> (loss, logits):
    label-smoothed cross entropy against y (weight lam) and y2 (CutMix's second labels), plus
    the model's own auxiliary loss (Sparsifiner's connectivity predictor)."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = net(x)
        loss = lam * F.cross_entropy(logits.float(), y, label_smoothing=smoothing)
        if lam < 1:
            loss = loss + (1 - lam) * F.cross_entropy(logits.float(), y2, label_smoothing=smoothing)
        if hasattr(model, "aux_loss"):
            loss = loss + model.aux_loss()
    return loss, logits


def compile_gradient_error(model, fast, batch, smoothing, amp):
    """One batch (x, y, y2, lam) through eager `model` and compiled `fast` from the same random
    state -> (relative L2 error of the compiled gradient, the parameter with the largest share of
    it). Leaves no gradient behind; BatchNorm statistics see the batch twice."""
    cuda = batch[0].device.type == "cuda"
    state = torch.cuda.get_rng_state() if cuda else torch.get_rng_state()
    grads = []
    for net in (model, fast):
        (torch.cuda.set_rng_state if cuda else torch.set_rng_state)(state)
        model.zero_grad(set_to_none=True)
        batch_loss(net, model, *batch, smoothing, amp)[0].backward()
        grads.append([torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                      for p in model.parameters()])
    model.zero_grad(set_to_none=True)
    names = [n for n, _ in model.named_parameters()]
    sq = {n: (g - e).float().pow(2).sum().item() for n, e, g in zip(names, *grads)}
    ref = sum(e.float().pow(2).sum().item() for e in grads[0])
    return (sum(sq.values()) / max(ref, 1e-30)) ** 0.5, max(sq, key=sq.get)


def main():
    a, hp = parse()
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    amp = not a.no_amp and dev.type == "cuda"
    os.makedirs(a.out_dir, exist_ok=True)
    build, metadata = family(a.family)
    kw = {"drop_path_rate": hp["drop_path"]} if "drop_path_rate" in inspect.signature(build).parameters else {}
    model = build(**kw).to(dev).to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    flops = count_flops(model, dev)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "pos_embed" not in n
             and "token" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "pos_embed" not in n
                and "token" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["wd"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=hp["lr"],
                            betas=(0.9, 0.999), **({"fused": True} if dev.type == "cuda" else {}))
    t0 = time.time()
    images, labels = load_cifar(a.train_pack, dev)
    if a.subset:  # a random subset: the pack is ordered by class
        keep = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(a.seed))
        keep = keep[:a.subset].to(dev)
        images, labels = images[keep], labels[keep]
    test_x, test_y = load_cifar(a.test_pack, dev)
    print(f"[{a.family}] {n_params / 1e6:.2f}M params, {flops} FLOPs/image, "
          f"{images.shape[0]} train images "
          f"decoded in {time.time() - t0:.1f}s, hp {json.dumps(hp)}", flush=True)

    ckpt = os.path.join(a.out_dir, f"{a.family}.ckpt")
    step, epoch, trained_s, skipped = 0, 0, 0.0, 0
    gen = torch.Generator(device=dev).manual_seed(a.seed)
    init_trained = None
    if a.init and not os.path.exists(ckpt):
        init_trained = load_init(model, a.init)
        print(f"[{a.family}] weights from {a.init} (test top-1 "
              f"{evaluate(model, test_x, test_y, amp=False):.4f} f32)", flush=True)
    if os.path.exists(ckpt):
        s = torch.load(ckpt, map_location=dev)
        model.load_state_dict(s["model"])
        opt.load_state_dict(s["opt"])
        step, epoch, trained_s, skipped = s["step"], s["epoch"], s["trained_s"], s.get("skipped", 0)
        init_trained = s.get("init_trained")
        gen.manual_seed(a.seed + 1000 * epoch)
        print(f"[{a.family}] resumed at epoch {epoch}, step {step}, {trained_s:.0f}s", flush=True)
    steps_per_epoch = images.shape[0] // hp["batch"]
    total_steps = a.epochs * steps_per_epoch if a.epochs else None

    def progress():
        return step / total_steps if total_steps else trained_s / a.budget_s

    fast = compiled(model, dev.type == "cuda" and not a.no_compile)
    check_compile = fast is not model  # before the first compiled step and after a recompile
    dense = None  # Sparsifiner: dense attention in the first dense_frac of the run
    last_ckpt = time.time()
    first = True
    done = progress() >= 1
    while not done:
        t_epoch, seen, loss_sum, correct, sampled, norms = time.time(), 0, 0.0, 0, 0, []
        mark = time.time()
        for x, y in batches(images, labels, hp["batch"], gen, hp["augment"]):
            for g in opt.param_groups:
                g["lr"] = lr_at(progress(), hp["lr"], hp["warmup"])
            if hp["dense_frac"] and dense != (progress() < hp["dense_frac"]):
                dense = progress() < hp["dense_frac"]
                model.set_dense_attention(dense)
                check_compile = fast is not model
                print(f"[{a.family}] step {step}: {'dense' if dense else 'sparse'} attention; test "
                      f"top-1 now {evaluate(model, test_x, test_y, amp):.4f}", flush=True)
            compiling = first or check_compile  # this step compiles: its time is not training
            first = False
            y2, lam = y, 1.0
            if hp["cutmix"] and torch.rand((), generator=gen, device=dev).item() < hp["cutmix"]:
                x, y2, lam = cutmix(x, y, gen)
            x = normalize(x).contiguous(memory_format=torch.channels_last)
            batch = (x, y, y2, lam)
            try:
                if check_compile:  # a miscompiled gradient must not cost the run silently
                    check_compile = False
                    err, worst = compile_gradient_error(model, fast, batch, hp["smoothing"], amp)
                    ok = err <= 0.1
                    print(f"[{a.family}] step {step}: torch.compile gradient vs eager: relative "
                          f"error {err:.2e} (largest share: {worst})"
                          f"{'' if ok else '; DISAGREES, training eager'}", flush=True)
                    fast = fast if ok else model
                loss, logits = batch_loss(fast, model, *batch, hp["smoothing"], amp)
            except Exception as e:  # a compile failure must not cost the run
                if fast is model:
                    raise
                print(f"[{a.family}] torch.compile failed ({type(e).__name__}: {e}); eager", flush=True)
                fast = model
                loss, logits = batch_loss(fast, model, *batch, hp["smoothing"], amp)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), hp["clip"] or float("inf"))
            if torch.isfinite(norm):  # a non-finite gradient skips the step, not the run
                opt.step()
            else:
                skipped += 1
                if skipped % 10 == 1:
                    print(f"[{a.family}] step {step}: non-finite gradient, step skipped "
                          f"({skipped} so far)", flush=True)
            step += 1
            seen += y.shape[0]
            if step % 10 == 0:  # syncs the GPU: not every step
                loss_sum += loss.item() * y.shape[0]
                norms.append(norm.item())
                correct += (logits.argmax(1) == y).sum().item()
                sampled += y.shape[0]
            now = time.time()
            if not compiling:  # wall time of training only (no compiling, checkpoints or eval),
                trained_s += now - mark  # so that the warm-up is not spent compiling
            mark = now
            if now - last_ckpt > a.ckpt_every_s:
                save_ckpt(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(),
                                 "step": step, "epoch": epoch, "trained_s": trained_s,
                                 "skipped": skipped, "init_trained": init_trained})
                last_ckpt = mark = time.time()
            if progress() >= 1 or (a.max_steps and step >= a.max_steps) or \
                    (a.stop_at_s and trained_s >= a.stop_at_s):
                done = True
                break
        epoch += 1
        dt = time.time() - t_epoch
        norms.sort()
        print(f"[{a.family}] epoch {epoch} step {step} progress {min(progress(), 1):.3f} "
              f"loss~{loss_sum / max(sampled, 1):.3f} train-acc~{correct / max(sampled, 1):.3f} "
              f"grad-norm~{norms[len(norms) // 2] if norms else float('nan'):.3g} "
              f"(max {norms[-1] if norms else float('nan'):.3g}) skipped {skipped} "
              f"{seen / dt:.0f} img/s lr {opt.param_groups[0]['lr']:.2e}", flush=True)
    acc = evaluate(model, test_x, test_y, amp=False)
    print(f"[{a.family}] done: {epoch} epochs, {step} steps ({skipped} skipped: non-finite "
          f"gradient), {trained_s:.0f}s training; test top-1 {acc:.4f} (f32)", flush=True)
    meta = dict(metadata())
    meta["seer.trained"] = json.dumps({"family": a.family, "epochs": epoch, "steps": step,
                                       "seed": a.seed, "hparams": hp, "test_top1_f32": acc,
                                       "budget_s": a.budget_s, "trained_s": round(trained_s),
                                       "skipped_steps": skipped, "init": a.init,
                                       "init_trained": init_trained, "device": dev.type,
                                       "params": n_params, "flops_per_image": flops,
                                       "script": "tools/train/train_classifier.py"})
    model.eval()
    export_seer(model, os.path.join(a.out_dir, f"{a.family}.safetensors"), meta, half=True)
    save_ckpt(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                     "epoch": epoch, "trained_s": trained_s, "skipped": skipped,
                     "init_trained": init_trained})


if __name__ == "__main__":
    main()
