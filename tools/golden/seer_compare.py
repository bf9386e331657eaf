"""What the compare_<family>.py scripts (volo, halonet, van, biformer, vit) share: their common
options, the reference run over the images (CPU or CUDA; F32, F64 or PyTorch's BF16 autocast),
and the agreement of a `seer classify --format jsonl --topk 5` output and its `--logits` file
with the reference's logits. Each script builds its reference and its eval transform.

The functions take the scripts' argparse namespace (add_args): args.out, args.images,
args.device, args.batch, args.force, args.seer_jsonl, args.seer_logits, ...
"""
import contextlib
import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import seer_st  # noqa: E402

IMG_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def add_args(ap, batch):
    """The options every compare script has (each adds --preset and its own)."""
    ap.add_argument("--out", required=True, help="folder for the weights and reference outputs")
    ap.add_argument("--images", required=True, help="folder of images (searched recursively)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N images (sorted) only")
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                    help="where the reference runs (cuda: TF32 off, so it stays an F32 reference)")
    ap.add_argument("--ref-bf16", action="store_true",
                    help="also run the reference under torch.autocast(DEVICE, bfloat16) "
                         "(OUT/TAG.ref_bf16_logits.npy) and print its agreement with the F32 "
                         "reference: PyTorch's own BF16 error, next to seer's")
    ap.add_argument("--list-out", help="write the image list (one path a line) here")
    ap.add_argument("--seer-jsonl", help="seer classify --format jsonl --topk 5 output")
    ap.add_argument("--seer-logits", help="seer classify --logits output (.safetensors)")
    ap.add_argument("--force", action="store_true", help="redo the weights and reference run")
    ap.add_argument("--timm", default="/work/ref/pytorch-image-models",
                    help="timm checkout to import (where absent: the installed timm)")


def prepare(args, who):
    """timm on the path, OUT made; the sorted image list (also to --list-out)."""
    sys.path.insert(0, args.timm)
    os.makedirs(args.out, exist_ok=True)
    files = list_images(args.images, args.limit)
    if not files:
        raise SystemExit(f"{who}: no images under {args.images}")
    if args.list_out:
        with open(args.list_out, "w") as fh:
            fh.write("".join(f + "\n" for f in files))
    return files


def timm_eval_transform(model):
    """timm's eval transform from the model's pretrained cfg (what timm's validate.py does)."""
    from timm.data import create_transform, resolve_data_config
    return create_transform(**resolve_data_config({}, model=model), is_training=False)


def run_reference(model, tf, files, path, device="cpu", batch=16, precision="f32", force=False):
    """Logits of model over files (tf: PIL RGB image -> tensor), `batch` images at a time on
    `device`, saved to path (.npy); read back from there instead while it has one row per file
    (unless force). precision: f32; f64 (model and inputs in float64 for this run); bf16
    (torch.autocast(device, bfloat16): PyTorch's usual BF16 inference, logits as float32)."""
    if not force and os.path.exists(path):
        logits = np.load(path)
        if logits.shape[0] == len(files):
            return logits
    import torch
    from PIL import Image
    dev = torch.device(device)
    tf32 = ""
    if dev.type == "cuda":
        with warnings.catch_warnings():  # PyTorch >= 2.9 prefers its fp32_precision settings
            warnings.simplefilter("ignore")
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            tf32 = (f", TF32 in matmul {torch.backends.cuda.matmul.allow_tf32}, "
                    f"in cuDNN {torch.backends.cudnn.allow_tf32}")
    else:
        torch.set_num_threads(os.cpu_count() or 1)
    dtype = torch.float64 if precision == "f64" else torch.float32
    model.to(dev, dtype)
    print(f"reference {precision} on {device} (torch {torch.__version__}{tf32})")
    out = []
    t0 = time.time()
    bf16 = precision == "bf16"
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16), \
            f32_layer_norm(torch, bf16 and dev.type == "cpu"):
        for i in range(0, len(files), batch):
            xs = []
            for f in files[i:i + batch]:
                with open(f, "rb") as fh:
                    xs.append(tf(Image.open(fh).convert("RGB")))
            out.append(model(torch.stack(xs).to(dev, dtype)).to(dtype).cpu().numpy())
            print(f"\rreference {precision}: {i + len(xs)}/{len(files)} ({time.time() - t0:.0f} s)",
                  end="", flush=True)
    print()
    model.float()
    logits = np.concatenate(out)
    np.save(path, logits)
    return logits


@contextlib.contextmanager
def f32_layer_norm(torch, on):
    """LayerNorm in F32 on a BF16 input, as CUDA autocast runs it (its fp32 op list): torch
    1.13's CPU autocast leaves layer_norm out and then fails on the mixed dtypes."""
    fn = torch.nn.functional.layer_norm
    if on:
        torch.nn.functional.layer_norm = lambda x, *a, **k: fn(x.float(), *a, **k)
    try:
        yield
    finally:
        torch.nn.functional.layer_norm = fn


def references(args, model, tf, files, tag, f64=False):
    """The reference's F32 logits (OUT/TAG.ref_logits.npy, top-5 in OUT/TAG.ref_top5.jsonl),
    with --ref-bf16 its BF16 autocast ones (OUT/TAG.ref_bf16_logits.npy), with f64 its float64
    ones (OUT/TAG.ref_logits64.npy); the ones not asked for are None."""
    def run(suffix, precision):
        return run_reference(model, tf, files, os.path.join(args.out, f"{tag}.{suffix}.npy"),
                             args.device, args.batch, precision, args.force)
    print("reference transform:", tf)
    ref = run("ref_logits", "f32")
    top_path = os.path.join(args.out, f"{tag}.ref_top5.jsonl")
    with open(top_path, "w") as fh:
        for f, l in zip(files, ref):
            top = np.argsort(-l, kind="stable")[:5]
            fh.write(json.dumps({"file": f, "top": [int(c) for c in top]}) + "\n")
    print(f"wrote {top_path}")
    return (ref, run("ref_bf16_logits", "bf16") if args.ref_bf16 else None,
            run("ref_logits64", "f64") if f64 else None)


def compare(args, files, ref, ref_bf16=None, ref64=None):
    """Everything asked for: PyTorch BF16 vs F32, seer's top-5 and logits vs the reference."""
    if ref_bf16 is not None:
        compare_bf16(ref, ref_bf16)
    if args.seer_jsonl:
        compare_top5(args, files, ref)
    if args.seer_logits:
        compare_logits(args, files, ref, ref64)


def rel_l2(x, r):
    """Relative L2 error of x against r, and of their image-dependent parts (minus the mean over
    the images: random-init models give nearly the same logits for every image)."""
    x, r = x.astype(np.float64), r.astype(np.float64)
    xc, rc = x - x.mean(axis=0), r - r.mean(axis=0)
    centred = np.linalg.norm(xc - rc) / np.linalg.norm(rc) if len(r) > 1 else float("nan")
    return np.linalg.norm(x - r) / np.linalg.norm(r), centred


def compare_bf16(ref, bf16):
    """PyTorch's own BF16 (autocast) against its F32 logits, the measures seer gets."""
    n = len(ref)
    tr, tb = (np.argsort(-x, axis=1, kind="stable")[:, :5] for x in (ref, bf16))
    same5 = sum(set(a) == set(b) for a, b in zip(tr, tb))
    same1 = int((tr[:, 0] == tb[:, 0]).sum())
    rel, rel_c = rel_l2(bf16, ref)
    srt = -np.sort(-bf16, axis=1)
    print(f"PyTorch BF16 (autocast) vs reference F32: {n} images; identical top-5 sets "
          f"{100.0 * same5 / n:.2f}% ({same5}/{n}), identical top-1 {100.0 * same1 / n:.2f}% "
          f"({same1}/{n}), logits rel-L2 {rel:.3e} (image-dependent part {rel_c:.3e}); BF16 "
          f"logits tied 1st/2nd on {(srt[:, 0] == srt[:, 1]).sum()}, "
          f"5th/6th on {(srt[:, 4] == srt[:, 5]).sum()} images")


def list_images(root, limit):
    files = []
    for d, _, names in os.walk(root):
        files += [os.path.join(d, n) for n in names if n.lower().endswith(IMG_EXT)]
    files.sort()
    return files[:limit] if limit else files


def key_of(path, root):
    """Match seer's paths to ours: relative to the image root when under it."""
    p, r = os.path.realpath(path), os.path.realpath(root)
    return os.path.relpath(p, r) if p.startswith(r + os.sep) else p


def compare_top5(args, files, ref_logits):
    ref = {key_of(f, args.images): np.argsort(-l, kind="stable")[:5]
           for f, l in zip(files, ref_logits)}
    n = same5 = same1 = failed = 0
    with open(args.seer_jsonl) as fh:
        for line in fh:
            if not line.strip():
                continue
            o = json.loads(line)
            k = key_of(o["file"], args.images)
            if k not in ref:
                continue
            if not o.get("ok", False):
                failed += 1
                continue
            got = [e["class"] for e in o["top"]][:5]
            n += 1
            same5 += set(got) == set(int(c) for c in ref[k])
            same1 += got[0] == int(ref[k][0])
    print(f"top-5 agreement: {n} files compared ({failed} failed in seer, "
          f"{len(ref) - n - failed} missing)")
    if n:
        print(f"  identical top-5 sets: {100.0 * same5 / n:.2f}% ({same5}/{n})")
        print(f"  identical top-1:      {100.0 * same1 / n:.2f}% ({same1}/{n})")


def compare_logits(args, files, ref_logits, ref64=None):
    """ref64: optional float64 reference logits (how far float32 rounding alone goes)."""
    sd, meta = seer_st.read_safetensors(args.seer_logits)
    got = sd["logits"].astype(np.float64)
    names = [key_of(f, args.images) for f in json.loads(meta["files"])]
    index = {key_of(f, args.images): i for i, f in enumerate(files)}
    rows = [(j, index[k]) for j, k in enumerate(names) if k in index]
    if not rows:
        print("logits: no file in common")
        return
    g = got[[j for j, _ in rows]]
    r = ref_logits[[i for _, i in rows]].astype(np.float64)
    d = g - r
    rel, rel_c = rel_l2(g, r)
    rc = r - r.mean(axis=0)
    print(f"logits: {len(rows)} images; max abs err {np.abs(d).max():.3e} "
          f"(max |ref| {np.abs(r).max():.3e}), rel-L2 {rel:.3e}; image-dependent part: "
          f"rel-L2 {rel_c:.3e} (its norm is {np.linalg.norm(rc) / np.linalg.norm(r):.3f} of the "
          f"logits')")
    per = np.linalg.norm(d, axis=1) / np.linalg.norm(r, axis=1)
    print(f"  per-image rel-L2: median {np.median(per):.3e}, max {per.max():.3e}; "
          f"images above 1e-4: {(per > 1e-4).sum()}")
    # How separated are the reference's top-5 from the 6th class (ties make top-5 sets fragile)?
    if r.shape[1] > 5:
        srt = -np.sort(-r, axis=1)
        gap = srt[:, 4] - srt[:, 5]
        print(f"  reference gap between 5th and 6th logit: median {np.median(gap):.3e}, "
              f"min {gap.min():.3e}")
    if ref64 is not None:
        r64 = ref64[[i for _, i in rows]]
        for what, x in (("seer", g), ("reference float32", r)):
            e = np.linalg.norm(x - r64, axis=1) / np.linalg.norm(r64, axis=1)
            print(f"  {what} vs reference float64: rel-L2 "
                  f"{np.linalg.norm(x - r64) / np.linalg.norm(r64):.3e}, per image median "
                  f"{np.median(e):.3e}, max {e.max():.3e}")
