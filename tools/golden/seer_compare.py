"""The seer side of the compare_<family>.py scripts: image lists, and agreement of a
`seer classify --format jsonl --topk 5` output and its `--logits` file with the reference's
logits. Each script builds and runs its reference; this module compares.

The functions take the scripts' argparse namespace: args.images (image root), args.seer_jsonl,
args.seer_logits.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import seer_st  # noqa: E402

IMG_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


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
    rel = np.linalg.norm(d) / np.linalg.norm(r)
    gc, rc = g - g.mean(axis=0), r - r.mean(axis=0)
    rel_c = np.linalg.norm(gc - rc) / np.linalg.norm(rc) if len(rows) > 1 else float("nan")
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
