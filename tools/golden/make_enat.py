#!/usr/bin/env python3
"""Golden fixture for ENAT (generate/enat.c, generate/enat_sampler.c) from the reference code
(ENAT's libs/models.py DiT and libs/nat_misc.py NATSchedule.generate).

Tiny config: hidden 32, 2 heads, 2 encoder + 1 decoder blocks, a 4 x 4 token grid (L = 16), a
64-entry codebook ([MASK] = 64; the same size as the tiny VQGAN fixture, so the two pair in CLI
tests), 1000 classes (the reference sampler hard-codes the null class 1000). Random weights
(seed 0) rounded to float16 values and stored as F16; the adaLN layers, zero at init in the
reference, are random here so that every modulation matters.

Fixture tests/golden/enat_tiny.io.safetensors:
- a plain forward (no cache): fwd_ids [3, 16] (10 masked per row), fwd_labels [3] (one of them
  the null class), fwd_logits [3, 16, 64], fwd_feat [3, 16, 32];
- a forward with the cache of the first: reuse_ids (4 more tokens revealed), reuse_logits,
  reuse_feat (prev = fwd_feat and fwd_ids' masking);
- a whole 8-step generation with cfg 2.5, mask_temp 1.5, samp_temp 6 (ENAT's ImageNet-256
  settings) for labels gen_labels [2]: gen_uniform_k [8, 2, 16] (the uniform double behind each
  torch.multinomial draw is gen_uniform_k / 2^53: torch 1.13's CPU kernel inverts the float32
  cumulative distribution with one uniform per row; replayed from the generator state and
  checked against the real call), gen_gumbel [8, 2, 16] (np.random.gumbel draws, rounded to
  float32 and handed to the reference as such), gen_steps [8, 2, 16] (token grid after each
  step) and gen_ids [2, 16] (the result).

    /work/ref/venv/bin/python tools/golden/make_enat.py [--ref /work/ref/ENAT]
"""
import argparse
import math
import os
import sys
import types

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
sys.path.insert(0, here)
import seer_st  # noqa: E402
from make_vqgan import stand_in_modules  # noqa: E402

TINY = dict(grid=4, hidden=32, heads=2, enc_dec=(2, 1), codebook=64, classes=1000)
GEN = dict(steps=8, cfg_scale=2.5, mask_temp=1.5, samp_temp=6.0)


def load_reference(ref):
    if ref not in sys.path:
        sys.path.insert(0, ref)
    stand_in_modules()
    from libs.models import DiT
    from libs import nat_misc
    return DiT, nat_misc


def build(DiT, cfg, seed=0):
    torch.manual_seed(seed)
    args = types.SimpleNamespace(enc_dec=list(cfg["enc_dec"]))
    return DiT(input_size=cfg["grid"], hidden_size=cfg["hidden"], num_heads=cfg["heads"],
               num_classes=cfg["classes"], codebook_size=cfg["codebook"], args=args).eval()


def randomize(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight") or name.endswith("norm.weight") or name.endswith("ln.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif "embeddings" in name or "embedding_table" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith("weight") and p.ndim == 2:
                std = (0.5 if "adaLN" in name else 1.0) / math.sqrt(p.shape[1])
                p.copy_(std * torch.randn(p.shape, generator=g))
            else:  # biases, mlm_layer.bias
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            p.copy_(p.half().float())


def config_metadata(cfg, arch="enat_tiny"):
    return {"seer.arch": arch, "enat.hidden_size": cfg["hidden"],
            "enat.num_heads": cfg["heads"], "enat.depth_enc": cfg["enc_dec"][0],
            "enat.depth_dec": cfg["enc_dec"][1], "enat.codebook_size": cfg["codebook"],
            "enat.num_classes": cfg["classes"], "enat.grid": cfg["grid"]}


def multinomial_replica(probs, u):
    """torch 1.13's CPU multinomial (one sample, with replacement) given its uniforms: float32
    running sums divided by the total, last entry 1, first index whose value is >= u."""
    p = probs.numpy()
    cum = np.cumsum(p, axis=1, dtype=np.float32)
    cum = (cum / cum[:, -1:]).astype(np.float32)
    cum[:, -1] = 1
    return np.array([np.searchsorted(cum[i].astype(np.float64), u[i], side="left") for i in range(len(u))])


class Recorder:
    """Captures the sampler's random draws: np.random.gumbel (rounded to float32 values) and the
    uniform torch.multinomial draws per row (replayed from the same generator state, checked
    against the real call)."""

    def __init__(self, seed):
        self.rs = np.random.RandomState(seed)
        self.gumbel, self.uniform_k = [], []
        self.orig_multinomial = torch.multinomial
        self.orig_gumbel = np.random.gumbel

    def gumbel_draw(self, size=None):
        g = self.rs.gumbel(size=size).astype(np.float32)
        self.gumbel.append(g)
        return g.astype(np.float64)

    def multinomial(self, probs, n, replacement=False, **kw):
        assert n == 1 and replacement and probs.ndim == 2
        state = torch.get_rng_state()
        u = torch.rand(probs.shape[0], dtype=torch.float64).numpy()
        torch.set_rng_state(state)
        got = self.orig_multinomial(probs, n, replacement)
        assert np.array_equal(got[:, 0].numpy(), multinomial_replica(probs, u)), \
            "torch.multinomial is not the inverse-CDF kernel on this torch"
        k = u * 2.0 ** 53  # torch's doubles are k / 2^53: stored exactly as integers
        assert np.all(k == np.round(k))
        self.uniform_k.append(k.astype(np.int64))
        return got

    def __enter__(self):
        np.random.gumbel = self.gumbel_draw
        torch.multinomial = self.multinomial
        return self

    def __exit__(self, *exc):
        np.random.gumbel = self.orig_gumbel
        torch.multinomial = self.orig_multinomial


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="/work/ref/ENAT")
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    args = ap.parse_args()

    DiT, nat_misc = load_reference(args.ref)
    cfg = TINY
    model = build(DiT, cfg)
    randomize(model)
    L, V = cfg["grid"] ** 2, cfg["codebook"]
    rng = np.random.RandomState(2)

    # a plain forward, then one with the cache
    B = 3
    ids = rng.randint(0, V, size=(B, L)).astype(np.int64)
    masked_a = np.stack([rng.permutation(L) < 10 for _ in range(B)])
    ids_a = np.where(masked_a, V, ids)
    masked_b = masked_a.copy()
    for b in range(B):  # reveal 4 of the masked tokens
        reveal = rng.choice(np.flatnonzero(masked_a[b]), 4, replace=False)
        masked_b[b, reveal] = False
    ids_b = np.where(masked_b, V, ids)
    labels = np.array([3, cfg["classes"], 917], dtype=np.int64)
    with torch.no_grad():
        out_a = model(torch.from_numpy(ids_a), context=torch.from_numpy(labels), return_dict=True)
        out_b = model(torch.from_numpy(ids_b), context=torch.from_numpy(labels), return_dict=True,
                      prev_dict=out_a)
    print("logits std %.2f, feat std %.2f" % (out_a["logits"].std(), out_a["feat"].std()))

    # a whole generation with the reference sampler, its draws recorded
    gen_labels = np.array([207, 980], dtype=np.int64)
    sargs = types.SimpleNamespace(mask_temp=GEN["mask_temp"], samp_temp=GEN["samp_temp"],
                                  cfg_scale=GEN["cfg_scale"], seq_len=L)
    schedule = nat_misc.NATSchedule(codebook_size=V, device="cpu", args=sargs)
    steps = []
    orig_forward = model.forward

    def forward_recording(masked_ids, *a, **kw):
        if kw.get("context") is not None and kw["context"].shape[-1] != 1:  # the conditional pass
            steps.append(masked_ids.numpy().copy())
        return orig_forward(masked_ids, *a, **kw)

    model.forward = forward_recording
    torch.manual_seed(3)
    with Recorder(seed=4) as rec:
        gen = schedule.generate(GEN["steps"], len(gen_labels), model, lambda z: z,
                                latent_size=cfg["grid"], context=torch.from_numpy(gen_labels))
    model.forward = orig_forward
    gen_ids = gen.reshape(len(gen_labels), L).numpy().astype(np.int64)
    # token grids after each step: the next step's input, and the result after the last
    gen_steps = np.stack(steps[1:] + [gen_ids])
    print("masked per step:", [(s == V).sum(-1).tolist() for s in gen_steps])
    print("generated:", gen_ids.tolist())

    sd = {k: v.numpy().astype(np.float16) for k, v in model.state_dict().items()}
    os.makedirs(args.out, exist_ok=True)
    seer_st.write_safetensors(os.path.join(args.out, "enat_tiny.weights.safetensors"), sd,
                              config_metadata(cfg))
    seer_st.write_safetensors(
        os.path.join(args.out, "enat_tiny.io.safetensors"),
        {"fwd_ids": ids_a, "fwd_labels": labels, "fwd_logits": out_a["logits"].numpy(),
         "fwd_feat": out_a["feat"].numpy(), "reuse_ids": ids_b, "reuse_logits": out_b["logits"].numpy(),
         "reuse_feat": out_b["feat"].numpy(), "gen_labels": gen_labels,
         "gen_uniform_k": np.stack(rec.uniform_k).reshape(GEN["steps"], len(gen_labels), L),
         "gen_gumbel": np.stack(rec.gumbel), "gen_steps": gen_steps,
         "gen_ids": gen_ids},
        {"torch": torch.__version__, "steps": GEN["steps"], "cfg": GEN["cfg_scale"],
         "mask_temp": GEN["mask_temp"], "samp_temp": GEN["samp_temp"]})


if __name__ == "__main__":
    main()
