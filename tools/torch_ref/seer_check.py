"""Shared by the check_<family>.py scripts: CIFAR-10 test images as the "cifar" preset sees them,
seer's logits for an exported model, reference-vs-ours comparisons (eval and train-mode logits,
gradients), error reports and a CPU timing.

PIL decodes the JPEGs (seer decodes with libjpeg-turbo's same settings, so the pixels are
identical); the "cifar" preset is no resize and ImageNet mean/std.
"""
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
import seer_st  # noqa: E402
from torch_ref.export import export_seer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(here))
CIFAR_TEST = os.path.join(REPO, "..", "shared", "data", "cifar10", "test")
SEER = os.path.join(REPO, "build-cpu", "seer")  # a build with this change set (--seer)
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def cifar_files(n=16, root=CIFAR_TEST):
    """n test images, taken round-robin over the classes (0000.jpg, 0001.jpg, ...)."""
    files = []
    for i in range(n):
        d = os.path.join(root, CLASSES[i % 10])
        files.append(os.path.join(d, sorted(os.listdir(d))[i // 10]))
    return files


def load_cifar(files):
    """-> float32 [N, 3, 32, 32], normalized with ImageNet mean/std."""
    x = np.stack([np.asarray(Image.open(f).convert("RGB"), np.float32) / 255.0 for f in files])
    return ((x - MEAN) / STD).transpose(0, 3, 1, 2).copy()


def seer_logits(seer, model, metadata, files, threads=2, args=()):
    """Export model (F32) with metadata, run `seer classify --logits` (plus args, e.g. --model
    NAME) on files: [N, classes] in the order of files."""
    with tempfile.TemporaryDirectory(prefix="seer_check_") as d:
        w, out = os.path.join(d, "model.safetensors"), os.path.join(d, "logits.safetensors")
        export_seer(model, w, metadata)
        cmd = [seer, "classify", "--weights", w, "--logits", out, "--format", "csv",
               "--output", os.path.join(d, "top.csv"), "--threads", str(threads)] + list(args) + files
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"seer failed ({r.returncode}): {' '.join(cmd[:6])} ...\n{r.stderr}")
        sd, meta = seer_st.read_safetensors(out)
    order = {os.path.realpath(f): i for i, f in enumerate(json.loads(meta["files"]))}
    return sd["logits"][[order[os.path.realpath(f)] for f in files]]


def compare(name, got, ref, tol):
    """Prints max abs and relative L2 errors of got vs ref, and the same for the image-dependent
    part (minus the batch mean); True when both relative errors are <= tol."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    d = got - ref
    rel = np.linalg.norm(d) / max(np.linalg.norm(ref), 1e-30)
    gc, rc = got - got.mean(0), ref - ref.mean(0)
    rel_c = np.linalg.norm(gc - rc) / max(np.linalg.norm(rc), 1e-30) if len(ref) > 1 else 0.0
    ok = rel <= tol and rel_c <= tol
    print(f"  {name}: max abs {np.abs(d).max():.2e} (max |ref| {np.abs(ref).max():.2e}), "
          f"rel-L2 {rel:.2e}, image-dependent rel-L2 {rel_c:.2e} "
          f"(its share {np.linalg.norm(rc) / max(np.linalg.norm(ref), 1e-30):.2f}); "
          f"top-1 agree {int((got.argmax(-1) == ref.argmax(-1)).sum())}/{len(ref)} "
          f"[{'ok' if ok else 'FAIL'} at {tol:g}]")
    return ok


def train_step(model, x):
    """Train-mode logits and the gradients of a fixed loss, per parameter name."""
    model.train()
    model.zero_grad()
    y = model(x)
    (y * torch.linspace(-1, 1, y.shape[1])).sum().backward()
    return y.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def compare_grads(g_mine, g_ref, tol, exact_zero=lambda name: False):
    """Relative L2 error of all gradients together, and the worst parameter's (relative to
    max(its norm, 1e-2 x the largest parameter's norm): some gradients are tiny, e.g. of biases
    that a later normalization nearly removes). Parameters whose gradient is zero in exact
    arithmetic (exact_zero(name): a conv bias right before a train-mode BatchNorm) hold rounding
    noise only: their largest entry is reported against the largest gradient entry."""
    num = sum(((g_mine[n] - g) ** 2).sum() for n, g in g_ref.items()).sqrt()
    rel = (num / sum((g ** 2).sum() for g in g_ref.values()).sqrt()).item()
    floor = 1e-2 * max(g.norm() for n, g in g_ref.items() if not exact_zero(n))
    worst = max((((g_mine[n] - g).norm() / max(g.norm(), floor)).item(), n)
                for n, g in g_ref.items() if not exact_zero(n))
    top = max(g.abs().max() for g in g_ref.values())
    noise = max([max(g_mine[n].abs().max(), g.abs().max()) / top
                 for n, g in g_ref.items() if exact_zero(n)] or [torch.tensor(0.0)]).item()
    ok = rel <= tol and worst[0] <= tol and noise <= tol
    print(f"  gradients: {len(g_ref)} parameters, rel-L2 {rel:.2e}, worst parameter "
          f"{worst[0]:.2e} ({worst[1]}); exactly-zero ones at most {noise:.1e} of the largest "
          f"entry [{'ok' if ok else 'FAIL'} at {tol:g}]")
    return ok


def compare_models(name, ref, mine, xs, tol=1e-5, exact_zero=lambda name: False):
    """ref's weights into mine (by state_dict names, strict); eval logits on every (label, x) of
    xs, train-mode logits and gradients on the first. Leaves both models in eval mode with the
    weights they started with (train mode updates BatchNorm statistics)."""
    missing = mine.load_state_dict(ref.state_dict(), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    ok = True
    print(f"{name}: {sum(p.numel() for p in mine.parameters())} parameters")
    ref.eval(), mine.eval()
    with torch.no_grad():
        for label, x in xs:
            ok &= compare(f"eval logits, {label}", mine(x).numpy(), ref(x).numpy(), tol)
    x = xs[0][1]
    state = {k: v.clone() for k, v in ref.state_dict().items()}
    y_ref, g_ref = train_step(ref, x)
    y_mine, g_mine = train_step(mine, x)
    ok &= compare(f"train logits, {xs[0][0]}", y_mine.numpy(), y_ref.numpy(), tol)
    ok &= compare_grads(g_mine, g_ref, 10 * tol, exact_zero)
    ref.load_state_dict(state), mine.load_state_dict(state)
    ref.eval(), mine.eval()
    return ok


def timing(model, batch=64, steps=3):
    """Seconds per forward+backward of a train-mode batch of 32x32 images."""
    model.train()
    x = torch.randn(batch, 3, 32, 32)
    model(x).sum().backward()  # warm-up
    t = time.time()
    for _ in range(steps):
        model.zero_grad()
        model(x).sum().backward()
    return (time.time() - t) / steps


def save_fixture(out_dir, name, model, meta, io, script):
    """A golden fixture for tests/golden: NAME.weights.safetensors (the model, seer metadata)
    and NAME.io.safetensors (its inputs and outputs, with the script that made them)."""
    export_seer(model, os.path.join(out_dir, f"{name}.weights.safetensors"), meta)
    seer_st.write_safetensors(os.path.join(out_dir, f"{name}.io.safetensors"), io,
                              {"made_by": f"{script} --fixture", "torch": torch.__version__})
