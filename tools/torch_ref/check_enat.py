#!/usr/bin/env python3
"""Parity of tools/torch_ref/enat.py with the reference (ENAT's libs/models.py DiT and
libs/nat_misc.py NATSchedule.generate) and with seer (generate/enat.c, enat_sampler.c), on
random weights (make_enat.py's randomize: adaLN random so every modulation matters).

(a) reference vs torch_ref, F32, at make_enat.py's tiny config and at the CIFAR config:
    logits and features of a plain forward and of a forward reusing the first one's features
    (eval); the training forward (embedding dropout and label dropout on, same seed) with and
    without reuse, and the gradients of a masked-token cross-entropy for every parameter;
    a whole 8-step generation of the reference sampler against torch_ref's generate() fed the
    reference's own random draws (tiny config: the reference sampler hard-codes null class 1000).
(b) torch_ref vs seer at the CIFAR config: the network's logits and features for given token
    states (plain and with reuse) through the Criterion test enat/external_fixture_cpu
    (SEER_ENAT_FIXTURE, needs a build with -DSEER_BUILD_TESTS=ON), and a 16-step generation of
    `seer generate --noise` against torch_ref's generate() with the same draws: token grids of
    every image, and the decoded PNGs against torch_ref's tokenizer. A --trained file whose
    metadata names a guide (enat.guide, found next to it; or --guide FILE) is also generated
    guided (`seer generate --guide`, autoguidance at its enat.guide_w) against torch_ref's
    generate(guide=...).

(c) with --trained: tools/torch_ref/enat.py's grow() of that file to twice its depth computes
    exactly what the file does (logits and features bit for bit, 8-step generations identical).

    /work/ref/venv/bin/python tools/torch_ref/check_enat.py --seer build-h4/seer [--n 8]
    /usr/bin/python3 tools/torch_ref/check_enat.py --seer build/seer --trained-only \
        --trained FILE --tokenizer assets/models/vq_cifar.safetensors     # (b) for FILE only
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import types

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
sys.path.insert(0, os.path.join(os.path.dirname(here), "golden"))
import seer_st  # noqa: E402
from make_enat import TINY, Recorder, build, load_reference, randomize  # noqa: E402
from torch_ref import enat as ours  # noqa: E402
from torch_ref import vqgan  # noqa: E402
from torch_ref.export import export_seer  # noqa: E402
from torch_ref.seer_check import REPO  # noqa: E402


def report(name, got, want, tol=1e-5):
    got = np.asarray(got.detach() if torch.is_tensor(got) else got, np.float64)
    want = np.asarray(want.detach() if torch.is_tensor(want) else want, np.float64)
    d = got - want
    rel = np.linalg.norm(d) / max(np.linalg.norm(want), 1e-30)
    ok = rel <= tol and np.abs(d).max() <= 1e-4 * max(np.abs(want).max(), 1e-30)
    print(f"  {name}: rel-L2 {rel:.2e}, max-abs {np.abs(d).max():.2e} (max |ref| {np.abs(want).max():.2e})"
          f" [{'ok' if ok else 'FAIL'}]")
    return ok


def ref_config(cfg):
    return dict(grid=cfg["grid"], hidden=cfg["hidden"], heads=cfg["heads"], enc_dec=(cfg["depth_enc"], cfg["depth_dec"]),
                codebook=cfg["codebook_size"], classes=cfg["num_classes"])


def token_states(B, L, V, n_mask, n_reveal, seed):
    """(ids with n_mask masked per row, ids with n_reveal of those revealed) [B, L] int64."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (B, L), generator=g)
    masked_a = torch.stack([torch.randperm(L, generator=g) < n_mask for _ in range(B)])
    masked_b = masked_a.clone()
    for b in range(B):
        where = torch.nonzero(masked_a[b]).flatten()
        masked_b[b, where[torch.randperm(len(where), generator=g)[:n_reveal]]] = False
    return torch.where(masked_a, V, ids), torch.where(masked_b, V, ids)


def check_reference(DiT, name, cfg):
    """Reference DiT and torch_ref with the same random weights; returns (ok, torch_ref model)."""
    ref = build(DiT, ref_config(cfg))
    randomize(ref)
    model = ours.ENAT(**cfg).eval()
    sd = {k: v for k, v in ref.state_dict().items() if not k.startswith("prev_embedder.")}
    model.load_state_dict(sd, strict=True)
    print(f"[{name}] {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, config {cfg}")
    L, V, C = cfg["grid"] ** 2, cfg["codebook_size"], cfg["num_classes"]
    ids_a, ids_b = token_states(3, L, V, int(0.6 * L), max(1, L // 5), seed=2)
    labels = torch.tensor([3 % C, C, 7 % C])
    ok = True
    with torch.no_grad():
        ra = ref(ids_a, context=labels, return_dict=True)
        rb = ref(ids_b, context=labels, return_dict=True, prev_dict=ra)
        oa = model(ids_a, labels)
        ob = model(ids_b, labels, prev=oa)
    ok &= report("forward logits", oa["logits"], ra["logits"])
    ok &= report("forward features", oa["feat"], ra["feat"])
    ok &= report("reuse logits", ob["logits"], rb["logits"])
    ok &= report("reuse features", ob["feat"], rb["feat"])

    # training mode: dropout 0.1 on the embeddings and label dropout 0.1, drawn in the same order
    ref.train()
    model.train()
    target = torch.randint(0, V, (3, L), generator=torch.Generator().manual_seed(5))
    for reuse in (False, True):
        out = {}
        for who, net in (("ref", ref), ("ours", model)):
            net.zero_grad()
            torch.manual_seed(11)
            if who == "ref":
                logits = net(ids_b, context=labels, prev_dict=ra if reuse else None)
            else:
                logits = net(ids_b, labels, prev=oa if reuse else None)["logits"]
            tgt = torch.where(ids_b == V, target, torch.full_like(target, -1))
            loss = F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=-1, label_smoothing=0.1)
            loss.backward()
            out[who] = (logits.detach(), {n: p.grad.clone() for n, p in net.named_parameters()
                                          if p.grad is not None})
        tag = "training forward" + (" with reuse" if reuse else "")
        ok &= report(f"{tag}: logits", out["ours"][0], out["ref"][0])
        g_ref, g_ours = out["ref"][1], out["ours"][1]
        missing = set(g_ref) ^ set(g_ours)
        worst = max((np.linalg.norm((g_ours[n] - g_ref[n]).numpy()) / max(np.linalg.norm(g_ref[n].numpy()), 1e-30)
                     for n in g_ref if n in g_ours), default=0.0)
        g_ok = not missing and worst <= 1e-5
        print(f"  {tag}: gradients of {len(g_ours)} tensors, worst rel-L2 {worst:.2e}"
              f"{', names differ: ' + str(sorted(missing)) if missing else ''} [{'ok' if g_ok else 'FAIL'}]")
        ok &= g_ok
    ref.eval()
    model.eval()
    return ok, model, ref


def check_reference_sampler(nat_misc, ref, model, cfg):
    """The reference's NATSchedule.generate against torch_ref's generate() with its draws."""
    L, V = cfg["grid"] ** 2, cfg["codebook_size"]
    steps, cfg_w, mt, st = 8, 2.5, 1.5, 6.0
    labels = torch.tensor([207, 980])
    sargs = types.SimpleNamespace(mask_temp=mt, samp_temp=st, cfg_scale=cfg_w, seq_len=L)
    schedule = nat_misc.NATSchedule(codebook_size=V, device="cpu", args=sargs)
    torch.manual_seed(3)
    with Recorder(seed=4) as rec:
        want = schedule.generate(steps, 2, ref, lambda z: z, latent_size=cfg["grid"], context=labels)
    u = torch.from_numpy(np.stack(rec.uniform_k).reshape(steps, 2, L).astype(np.float64) / 2.0 ** 53)
    g = torch.from_numpy(np.stack(rec.gumbel).reshape(steps, 2, L))
    got = ours.generate(model, labels, steps=steps, cfg=cfg_w, mask_temp=mt, samp_temp=st, noise=(u, g))
    same = (got == want.reshape(2, L)).float().mean().item()
    print(f"  8-step generation with the reference's draws: {100 * same:.1f}% of tokens identical "
          f"[{'ok' if same == 1 else 'FAIL'}]")
    return same == 1


def run_seer_tests(seer_tests, prefix):
    env = dict(os.environ, SEER_ENAT_FIXTURE=prefix)
    r = subprocess.run([seer_tests, "--filter", "enat/external_fixture_cpu", "--verbose"], env=env,
                       capture_output=True, text=True)
    text = r.stdout + r.stderr
    for line in text.splitlines():
        m = re.search(r"enat golden (.*): rel-L2 (\S+), max-abs (\S+) \(max \|ref\| (\S+)\)", line)
        if m:
            print(f"  seer {m.group(1)}: rel-L2 {m.group(2)}, max-abs {m.group(3)} (max |ref| {m.group(4)})")
    passed = r.returncode == 0 and "Passing: 1" in text and "Failing: 0" in text
    if not passed:
        print(text[-3000:])
    print(f"  Criterion enat/external_fixture_cpu: {'ok' if passed else 'FAIL'}")
    return passed


def check_generation(model, meta, seer, d, prefix, n, threads, tok, guide):
    """A whole 16-step generation of `seer generate --noise` (the model's export at prefix, in
    folder d) against torch_ref's generate() with the same draws, decoded by tok; guided by
    guide = (model, weight) through `seer generate --guide`, or with --guide none."""
    cfg = model.config
    L, V = cfg["grid"] ** 2, cfg["codebook_size"]
    ok = True
    sub = os.path.join(d, "guided" if guide is not None else "plain")
    os.makedirs(sub, exist_ok=True)
    steps, cls = 16, 3
    rng = np.random.RandomState(0)
    k = rng.randint(0, 2 ** 53, size=(steps, n, L), dtype=np.int64)
    gum = rng.gumbel(size=(steps, n, L)).astype(np.float32)
    noise = os.path.join(sub, "noise.safetensors")
    seer_st.write_safetensors(noise, {"token_uniform_k": k, "gumbel": gum})
    tpath = os.path.join(sub, "vq_cifar.safetensors")
    export_seer(tok, tpath, vqgan.cifar_metadata(tok))
    tokens = os.path.join(sub, "tokens.safetensors")
    guide_args = ["--guide", "none"]
    if guide is not None:
        gpath = os.path.join(sub, "guide.safetensors")
        export_seer(guide[0], gpath, ours.cifar_metadata(guide[0]))
        guide_args = ["--guide", gpath, "--guide-w", repr(float(guide[1]))]
        print(f"  guided by a {sum(p.numel() for p in guide[0].parameters()) / 1e6:.2f}M-parameter "
              f"ENAT at weight {guide[1]}")
    t0 = time.time()
    r = subprocess.run([seer, "generate", "--model", "enat", "--weights", prefix + ".weights.safetensors", *guide_args,
                        "--tokenizer", tpath, "--class", str(cls), "--n", str(n), "--batch", str(n),
                        "--steps", str(steps), "--noise", noise, "--tokens", tokens,
                        "--out", os.path.join(sub, "png"),
                        "--device", "cpu", "--threads", str(threads)], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"seer generate failed:\n{r.stderr}")
    print(f"  seer generate --noise: {n} images, {steps} steps in {time.time() - t0:.1f} s")
    got = seer_st.read_safetensors(tokens)[0]["ids"].reshape(n, L)
    u = torch.from_numpy(k.astype(np.float64) / 2.0 ** 53)
    ties = torch.zeros(n, dtype=torch.float64)
    want = ours.generate(model, torch.full((n,), cls), steps=steps, cfg=float(meta["enat.cfg"]),
                         mask_temp=float(meta["enat.mask_temp"]), samp_temp=float(meta["enat.samp_temp"]),
                         noise=(u, torch.from_numpy(gum)), ties=ties,
                         guide=guide[0] if guide else None, guide_w=guide[1] if guide else 0.0).numpy()
    same = np.mean(got == want)
    equal = (got == want).all(1)
    # a draw or a cut-off decided by less than 1e-6 may go either way in float32 (a flat
    # distribution over 512 codes puts its cumulative steps 2e-3 apart): such images are
    # reported, the others must be identical
    close = ties.numpy() < 1e-6
    bad = int((~equal & ~close).sum())
    print(f"  {steps}-step generation, same draws: {100 * same:.2f}% of tokens identical, "
          f"{int(equal.sum())}/{n} images identical; {int(close.sum())} images had a decision within 1e-6 "
          f"({int((~equal & close).sum())} of them differ) [{'ok' if bad == 0 else 'FAIL'}]")
    ok &= bad == 0
    with torch.no_grad():
        img = tok.decode(torch.from_numpy(want).reshape(n, cfg["grid"], cfg["grid"]))
    want_u8 = (img.permute(0, 2, 3, 1).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    worst = 0
    for i in np.flatnonzero((got == want).all(1)):
        png = np.asarray(Image.open(os.path.join(sub, "png", f"{meta['seer.arch']}_c{cls}_s{i}.png")).convert("RGB"))
        worst = max(worst, int(np.abs(png.astype(int) - want_u8[i]).max()))
    print(f"  decoded PNGs of identical token grids: max difference {worst} levels "
          f"[{'ok' if worst <= 1 else 'FAIL'}]")
    ok &= worst <= 1
    return ok


def check_seer(model, meta, seer, seer_tests, n, threads, tok=None, guide=None):
    """torch_ref vs seer for a model (F32 export) with seer metadata meta; tok: the tokenizer
    (default: a random CIFAR one); guide: (guide model, weight) to also generate with
    autoguidance (check_generation)."""
    print(f"[seer] {seer}")
    cfg = model.config
    L, V, C = cfg["grid"] ** 2, cfg["codebook_size"], cfg["num_classes"]
    ok = True
    with tempfile.TemporaryDirectory(prefix="check_enat_") as d:
        prefix = os.path.join(d, "enat_cifar")
        export_seer(model, prefix + ".weights.safetensors", meta)
        ids_a, ids_b = token_states(4, L, V, 40, 9, seed=7)
        labels = torch.tensor([0, 3, C, 9])
        with torch.no_grad():
            oa = model(ids_a, labels)
            ob = model(ids_b, labels, prev=oa)
        seer_st.write_safetensors(prefix + ".io.safetensors", {
            "fwd_ids": ids_a.numpy(), "fwd_labels": labels.numpy(), "fwd_logits": oa["logits"].numpy(),
            "fwd_feat": oa["feat"].numpy(), "reuse_ids": ids_b.numpy(), "reuse_logits": ob["logits"].numpy(),
            "reuse_feat": ob["feat"].numpy()})
        if seer_tests and os.path.exists(seer_tests):
            ok &= run_seer_tests(seer_tests, prefix)
        else:
            print(f"  (no {seer_tests}: logits not compared; build with -DSEER_BUILD_TESTS=ON)")
            ok = False

        if tok is None:
            torch.manual_seed(1)
            tok = vqgan.build_cifar(n_embed=V).eval()
            with torch.no_grad():
                tok.decoder.conv_out.weight.mul_(0.3)
                tok.decoder.conv_out.bias.fill_(0.5)
        ok &= check_generation(model, meta, seer, d, prefix, n, threads, tok, None)
        if guide is not None:
            ok &= check_generation(model, meta, seer, d, prefix, n, threads, tok, guide)
    return ok


def check_grow(model):
    """(c): the file grown to twice its depth (training's --depth-enc/--depth-dec start) is the
    same function until trained."""
    c = model.config
    big = ours.grow(model, 2 * c["depth_enc"], 2 * c["depth_dec"])
    g = torch.Generator().manual_seed(7)
    B, L, V = 8, model.L, model.V
    ids = torch.randint(0, V, (B, L), generator=g)
    ids = torch.where(ours.sample_masking(B, L, "cpu", 0.6, generator=g), torch.full_like(ids, V), ids)
    labels = torch.arange(B) % c["num_classes"]
    with torch.no_grad():
        a, b = model(ids, labels), big(ids, labels)
    same = torch.equal(a["logits"], b["logits"]) and torch.equal(a["feat"], b["feat"])
    labels = torch.arange(20) % c["num_classes"]
    grids = [ours.generate(m, labels, steps=8, cfg=2, mask_temp=3, samp_temp=3,
                           generator=torch.Generator().manual_seed(11)) for m in (model, big)]
    same_gen = torch.equal(*grids)
    print(f"  grown {c['depth_enc']}+{c['depth_dec']} -> {2 * c['depth_enc']}+{2 * c['depth_dec']} blocks: "
          f"forward {'identical' if same else 'DIFFERS'}, 20 generations "
          f"{'identical' if same_gen else 'DIFFER'} [{'ok' if same and same_gen else 'FAIL'}]")
    return same and same_gen


def sampler_flops(cfg, steps, passes=2):
    """FLOPs per image of a seer sampler of `steps` steps, both guidance passes (the encoder
    runs on the newly visible tokens, reusing the others' features; the decoder on all);
    passes=1: one pass (a guide model's, which runs on the conditional half only)."""
    D, L, V, e, dd = cfg["hidden"], cfg["grid"] ** 2, cfg["codebook_size"], cfg["depth_enc"], cfg["depth_dec"]
    masked = [L] + [math.floor(L * math.cos(math.pi / 2 * s / steps)) for s in range(1, steps)]
    macs = 0
    for s, m in enumerate(masked):
        vis = L - m
        old = (L - masked[s - 1]) if s else 0  # visible in the previous step
        new = vis - old
        blk = 12 * D * D  # q, kv (own), proj, MLP per query token
        macs += e * (new * blk + old * 2 * D * D) + dd * (m * blk + vis * 2 * D * D)
        macs += old * 8 * D * D + L * (D * D + D * V)  # prev_proj, head
        macs += (e + dd) * 8 * D * D  # adaLN (per image)
    return 2 * passes * macs  # 2 FLOPs per MAC; conditional + unconditional passes


def cost(cfg, threads):
    """Parameters, per-image FLOPs of 4-, 8- and 16-step seer samplers, and one training step's
    forward+backward time at batch 64 on this CPU."""
    L, V = cfg["grid"] ** 2, cfg["codebook_size"]
    flops = {t: sampler_flops(cfg, t) for t in (4, 8, 16)}
    model = ours.ENAT(**cfg).train()
    ids, _ = token_states(64, L, V, 48, 0, seed=0)
    t0 = time.time()
    out = model(ids, torch.randint(0, cfg["num_classes"], (64,)))
    out["logits"].float().logsumexp(-1).mean().backward()
    per = ", ".join(f"{t} steps {f / 1e9:.3f}" for t, f in flops.items())
    print(f"[cost] ENAT {cfg}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params; GFLOP per "
          f"image with guidance: {per}; forward+backward at batch 64 on this CPU ({threads} threads): "
          f"{time.time() - t0:.2f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", default="/work/ref/ENAT")
    ap.add_argument("--seer", default=os.path.join(REPO, "build-cpu", "seer"))
    ap.add_argument("--seer-tests", default=None, help="default: seer_tests beside --seer")
    ap.add_argument("--n", type=int, default=8, help="images of the seer generation check")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--trained", default=None, help="also check a trained ENAT file against seer")
    ap.add_argument("--tokenizer", default=None, help="its tokenizer file (decoding check)")
    ap.add_argument("--guide", default=None,
                    help="its guide file (default: the one its metadata enat.guide names, next to it)")
    ap.add_argument("--trained-only", action="store_true",
                    help="only the --trained file against seer (no reference checkout needed), "
                         "e.g. a new generator size before it is trained further")
    a = ap.parse_args()
    if a.trained_only and not a.trained:
        ap.error("--trained-only needs --trained FILE")
    torch.set_num_threads(a.threads)
    seer_tests = a.seer_tests or os.path.join(os.path.dirname(os.path.abspath(a.seer)), "seer_tests")
    ok = True
    if not a.trained_only:
        DiT, nat_misc = load_reference(a.ref)
        tiny = dict(grid=TINY["grid"], hidden=TINY["hidden"], heads=TINY["heads"],
                    depth_enc=TINY["enc_dec"][0], depth_dec=TINY["enc_dec"][1],
                    codebook_size=TINY["codebook"], num_classes=TINY["classes"])
        ok, tiny_model, tiny_ref = check_reference(DiT, "reference vs torch_ref, tiny", tiny)
        ok &= check_reference_sampler(nat_misc, tiny_ref, tiny_model, tiny)
        ok_c, model, _ = check_reference(DiT, "reference vs torch_ref, CIFAR", dict(ours.CIFAR))
        ok &= ok_c
        ok &= check_seer(model, ours.cifar_metadata(model), a.seer, seer_tests, a.n, a.threads)
    if a.trained:
        trained, meta = ours.from_seer_file(a.trained)
        tok = vqgan.from_seer_file(a.tokenizer)[0] if a.tokenizer else None
        print(f"[trained] {a.trained} (as F32), sampler defaults cfg {meta['enat.cfg']} samp_temp "
              f"{meta['enat.samp_temp']} mask_temp {meta['enat.mask_temp']}")
        guide, gpath = None, a.guide
        if not gpath and meta.get("enat.guide"):
            gpath = os.path.join(os.path.dirname(os.path.abspath(a.trained)), meta["enat.guide"] + ".safetensors")
        if gpath:
            guide = (ours.from_seer_file(gpath)[0].eval(), float(meta.get("enat.guide_w", 0)))
            print(f"[guide] {gpath} (as F32) at weight {guide[1]}")
        ok &= check_seer(trained, meta, a.seer, seer_tests, a.n, a.threads, tok, guide)
        if guide is not None:
            print("[cost] the guide adds GFLOP per image: " + ", ".join(
                f"{t} steps {sampler_flops(guide[0].config, t, passes=1) / 1e9:.3f}" for t in (4, 8, 16)))
        ok &= check_grow(trained)
        cost(dict(trained.config), a.threads)
    if not a.trained_only:
        cost(dict(ours.CIFAR), a.threads)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
