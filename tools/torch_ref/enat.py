"""ENAT (Ni et al., NeurIPS 2024): a non-autoregressive token generator whose encoder sees only
the visible tokens and whose decoder runs the [MASK] tokens against them, reusing the previous
step's features; as seer's generate/enat.c runs it. Our own definition, written from the
paper and the reference's description (ENAT's libs/models.py `DiT`); state_dict keys are the
reference's, which are the names seer loads:

- x_embedder: word_embeddings [V + 1, D] (id V = [MASK]) + position_embeddings [L, D], then
  LayerNorm (eps 1e-6) and dropout 0.1 (training only).
- y_embedder.embedding_table [num_classes + 1, D]; the last row is the null class of
  classifier-free guidance; in training labels are dropped to it with probability 0.1.
- blocks.{i}: adaLN_modulation.1 (SiLU first) gives 8 chunks: shift/scale of the block's own
  tokens, shift/scale of the context tokens, attention gate, shift/scale/gate of the MLP.
  Queries come from the own tokens; keys/values from [context (attn.kv.A), own (attn.kv.B)].
  LayerNorms without affine (eps 1e-6); MLP 4 D with tanh-GELU.
- The first depth_enc blocks encode the visible tokens. With a previous step, only the newly
  revealed tokens go through them, with the previous step's features of the other visible
  tokens (prev_proj: LayerNorm + MLP + residual) as their context, and those projected
  features stand in for the old tokens afterwards. The last depth_dec blocks run the masked
  tokens against [visible, masked].
- Head: LayerNorm (eps 1e-5) -> mlm_layer (Linear, erf-GELU, LayerNorm) -> logits against the
  word embeddings (tied, without gradient through them, as the reference) + mlm_layer.bias,
  first V kept.
The reference's prev_embedder (trained in its checkpoints, never used) is left out: seer
accepts files with or without it.
"""
import contextlib
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-6


def modulate(x, shift, scale):  # x [B, N, D], shift/scale [B, D]
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Mlp(nn.Module):
    def __init__(self, dim, hidden, approximate="tanh"):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.approximate = approximate

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate=self.approximate))


class TwoWay(nn.Module):
    """attn.kv: A projects the context tokens, B the block's own tokens (each D -> 2 D)."""

    def __init__(self, dim):
        super().__init__()
        self.A = nn.Linear(dim, 2 * dim)
        self.B = nn.Linear(dim, 2 * dim)


def attention(q, k, v):
    """q [B, H, N, d], k/v [B, H, M, d] -> [B, H, N, d]"""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    a = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    return a.softmax(-1) @ v


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = TwoWay(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        """x [B, N, D] (queries, own keys/values), ctx [B, M, D] or None (context keys/values)"""
        B, N, D = x.shape
        kv = self.kv.B(x)
        if ctx is not None and ctx.shape[1]:
            kv = torch.cat([self.kv.A(ctx), kv], 1)
        M = kv.shape[1]
        q = self.q(x).reshape(B, N, self.heads, D // self.heads).transpose(1, 2)
        kv = kv.reshape(B, M, 2, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        o = attention(q, kv[0], kv[1])  # [B, H, N, d]
        return self.proj(o.transpose(1, 2).reshape(B, N, D))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0, drop=0.0):
        super().__init__()
        self.drop = drop  # dropout of the attention and MLP outputs in training (not ENAT's: 0)
        self.attn = Attention(dim, heads)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 8 * dim))

    def forward(self, x, c, ctx=None):
        """x [B, N, D] attends to [ctx; x]; c [B, D] the class embedding."""
        (shift, scale, shift_ctx, scale_ctx, gate, shift_mlp, scale_mlp,
         gate_mlp) = self.adaLN_modulation(c).chunk(8, dim=1)
        D = x.shape[-1]
        xm = modulate(F.layer_norm(x, (D,), eps=LN_EPS), shift, scale)
        cm = None if ctx is None else modulate(F.layer_norm(ctx, (D,), eps=LN_EPS), shift_ctx, scale_ctx)
        x = x + gate.unsqueeze(1) * self.dropout(self.attn(xm, cm))
        y = modulate(F.layer_norm(x, (D,), eps=LN_EPS), shift_mlp, scale_mlp)
        return x + gate_mlp.unsqueeze(1) * self.dropout(self.mlp(y))

    def dropout(self, x):
        return F.dropout(x, self.drop, True) if self.drop and self.training else x


class Embeddings(nn.Module):
    def __init__(self, vocab, dim, length, dropout=0.1):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim)
        self.position_embeddings = nn.Embedding(length, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=LN_EPS)
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.word_embeddings.weight, std=0.02)
        nn.init.normal_(self.position_embeddings.weight, std=0.02)

    def forward(self, ids):
        x = self.word_embeddings(ids) + self.position_embeddings.weight[: ids.shape[1]]
        return self.dropout(self.LayerNorm(x))


class LabelEmbedder(nn.Module):
    def __init__(self, num_classes, dim, dropout_prob=0.1):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, dim)
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob

    def forward(self, labels):
        if self.training and self.dropout_prob > 0:
            drop = torch.rand(labels.shape[0], device=labels.device) < self.dropout_prob
            labels = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        return self.embedding_table(labels)


class PrevProj(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class MlmLayer(nn.Module):
    def __init__(self, dim, vocab):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.ln = nn.LayerNorm(dim)
        self.bias = nn.Parameter(torch.zeros(1, 1, vocab))

    def forward(self, x, word_embeddings):
        h = self.ln(F.gelu(self.fc(x)))
        return h @ word_embeddings.t() + self.bias


def split_rows(x, sel, n):
    """Rows of x [B, L, D] where sel [B, L] (bool, n per row), in position order -> [B, n, D]."""
    idx = positions(sel, n)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def positions(sel, n):
    """The n positions per row where sel is True, ascending: [B, n] (int64)."""
    L = sel.shape[1]
    # True positions first, each group in position order (a stable key without a stable sort)
    key = (~sel).long() * L + torch.arange(L, device=sel.device)
    return key.argsort(dim=1)[:, :n]


class ENAT(nn.Module):
    def __init__(self, grid=16, hidden=1024, heads=16, depth_enc=22, depth_dec=2, codebook_size=1024,
                 num_classes=1000, mlp_ratio=4.0, class_dropout=0.1, emb_dropout=0.1, block_dropout=0.0):
        super().__init__()
        self.config = dict(grid=grid, hidden=hidden, heads=heads, depth_enc=depth_enc,
                           depth_dec=depth_dec, codebook_size=codebook_size, num_classes=num_classes)
        self.V, self.D, self.L = codebook_size, hidden, grid * grid
        self.depth_enc = depth_enc
        self.x_embedder = Embeddings(codebook_size + 1, hidden, self.L, emb_dropout)
        self.y_embedder = LabelEmbedder(num_classes, hidden, class_dropout)
        self.prev_proj = PrevProj(hidden)
        self.blocks = nn.ModuleList(Block(hidden, heads, mlp_ratio, block_dropout)
                                    for _ in range(depth_enc + depth_dec))
        self.norm = nn.LayerNorm(hidden)
        self.mlm_layer = MlmLayer(hidden, codebook_size + 1)
        self.initialize_weights()

    def initialize_weights(self):
        """The reference's: xavier-uniform Linear weights, zero biases, class table N(0, 0.02),
        adaLN zero (so every block starts as the identity)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        for b in self.blocks:
            nn.init.zeros_(b.adaLN_modulation[1].weight)
            nn.init.zeros_(b.adaLN_modulation[1].bias)

    def forward(self, ids, labels, prev=None):
        """ids [B, L] (V = [MASK]; every row the same number of masked tokens), labels [B]
        (num_classes = unconditional). prev: the dict this returned for the previous step
        (every position masked now was masked then), or None.
        Returns {"logits" [B, L, V], "feat" [B, L, D], "masking" [B, L] bool}."""
        B, L = ids.shape
        D = self.D
        x = self.x_embedder(ids)  # [B, L, D]
        c = self.y_embedder(labels.reshape(-1))  # [B, D]
        masking = ids == self.V
        n_mask = int(masking[0].sum())
        n_vis = L - n_mask
        masked = split_rows(x, masking, n_mask)  # [B, Lm, D]
        enc = self.blocks[: self.depth_enc]
        if prev is None:
            visible = split_rows(x, ~masking, n_vis)  # [B, Lv, D]
            if n_vis:
                for blk in enc:
                    visible = blk(visible, c)
        else:
            # old = visible in the previous step (their projected features are the context);
            # new = revealed since (they run through the encoder)
            prev_masking = prev["masking"]
            old_sel = ~prev_masking
            new_sel = ~masking & prev_masking
            n_old = int(old_sel[0].sum())
            old = self.prev_proj(split_rows(prev["feat"].detach(), old_sel, n_old)).to(x.dtype)
            new = split_rows(x, new_sel, n_vis - n_old)
            if new.shape[1]:
                for blk in enc:
                    new = blk(new, c, old)
            # visible tokens in position order from [new; old]
            both = torch.cat([new, old], 1)
            src = torch.empty(B, L, dtype=torch.long, device=ids.device)
            src.scatter_(1, positions(new_sel, n_vis - n_old),
                         torch.arange(n_vis - n_old, device=ids.device).expand(B, -1))
            src.scatter_(1, positions(old_sel, n_old),
                         torch.arange(n_vis - n_old, n_vis, device=ids.device).expand(B, -1))
            order = torch.gather(src, 1, positions(~masking, n_vis))
            visible = torch.gather(both, 1, order.unsqueeze(-1).expand(-1, -1, D))
        if n_mask:
            for blk in self.blocks[self.depth_enc:]:
                masked = blk(masked, c, visible)
        # restore positions: feat[b, p] = [visible; masked][b, rank of p in its group]
        rank = torch.empty(B, L, dtype=torch.long, device=ids.device)
        rank.scatter_(1, positions(~masking, n_vis), torch.arange(n_vis, device=ids.device).expand(B, -1))
        rank.scatter_(1, positions(masking, n_mask), torch.arange(n_vis, L, device=ids.device).expand(B, -1))
        feat = torch.gather(torch.cat([visible, masked.to(visible.dtype)], 1), 1,
                            rank.unsqueeze(-1).expand(-1, -1, D))
        h = self.norm(feat)
        logits = self.mlm_layer(h, self.x_embedder.word_embeddings.weight.detach())[..., : self.V]
        return {"logits": logits, "feat": feat, "masking": masking}


def metadata(model, arch="enat_cifar", tokenizer="vq_cifar", steps=16, cfg=2.5, mask_temp=1.5,
             samp_temp=6.0):
    """seer metadata (seer.arch must start with "enat"), the sampler defaults (ENAT's ImageNet
    256 settings unless given) and the tokenizer's file name (enat.tokenizer)."""
    c = model.config
    md = {"seer.arch": arch, "enat.hidden_size": c["hidden"], "enat.num_heads": c["heads"],
          "enat.depth_enc": c["depth_enc"], "enat.depth_dec": c["depth_dec"],
          "enat.codebook_size": c["codebook_size"], "enat.num_classes": c["num_classes"],
          "enat.grid": c["grid"], "enat.steps": steps, "enat.cfg": cfg, "enat.mask_temp": mask_temp,
          "enat.samp_temp": samp_temp}
    if tokenizer:
        md["enat.tokenizer"] = tokenizer
    return md


# The CIFAR-10 generator over the 8 x 8 tokens of the CIFAR tokenizer (tools/torch_ref/vqgan.py).
# Sized for seer's CPU sampler: per pass of a 16-step sampler the decoder block runs on about
# 42 masked tokens and an encoder block on about 4 new ones, so the encoder is the cheap place
# for depth (see tools/train/train_enat.py).
CIFAR = dict(grid=8, hidden=128, heads=4, depth_enc=6, depth_dec=1, codebook_size=512, num_classes=10)
CIFAR_ARCH = "enat_cifar"


def build_cifar(**overrides):
    return ENAT(**{**CIFAR, **overrides})


def cifar_metadata(model=None, **sampler):
    return metadata(model if model is not None else build_cifar(), arch=CIFAR_ARCH, **sampler)


# ---- sampling (seer's generate/enat_sampler.c = ENAT's NATSchedule.generate) ---------------

def draw_inverse_cdf(probs, u, margins=None):
    """seer's (and torch 1.13 CPU multinomial's) token draw: float32 running sums divided by
    the total, last entry 1, first index whose value is >= u. probs [N, V] f32, u [N] float64;
    numpy, on the host (the parity path). margins (a list, optional) receives, per row, the
    distance from u to the nearest cumulative value: below ~1e-7 float rounding decides."""
    import numpy as np
    p = probs.detach().cpu().float().numpy()
    cum = np.cumsum(p, axis=1, dtype=np.float32)
    cum = (cum / cum[:, -1:]).astype(np.float32)
    cum[:, -1] = 1
    u = u.detach().cpu().double().numpy()
    out = [int(np.searchsorted(cum[i].astype(np.float64), u[i], side="left")) for i in range(len(u))]
    if margins is not None:
        margins.append(np.abs(cum.astype(np.float64) - u[:, None]).min(1))
    return torch.tensor(out, dtype=torch.long, device=probs.device)


@torch.no_grad()
def generate(model, labels, steps=16, cfg=2.5, mask_temp=1.5, samp_temp=6.0, generator=None,
             noise=None, autocast_dtype=None, ties=None, guide=None, guide_w=0.0):
    """Class-conditional token grids [B, L] with seer's sampler: all [MASK] at first; at step s
    of T (r = (s + 1) / T): logits = cond + w (cond - uncond) [+ w_g (cond - guide)] with
    w = cfg * s / T, w_g = guide_w * s / T (guide: a weaker ENAT's conditional logits,
    autoguidance; left out when guide is None or guide_w is 0); logp =
    log_softmax; masked positions draw from softmax(logp / max(samp_temp (1 - r), 1e-3));
    confidence = logp[token] + mask_temp (1 - r) Gumbel (+inf for visible tokens); the
    floor(L cos(pi r / 2)) least confident go back to [MASK]. Conditional and unconditional
    passes each keep their own previous-step features.
    noise: None (torch draws, on the model's device) or (uniforms [T, B, L] float64, gumbels
    [T, B, L] float32) for an exact replay of seer generate --noise. ties (with noise; optional
    tensor [B] float64, filled) receives per image the smallest margin by which a token draw or
    the confidence cut-off was decided: near 1e-7 or below, float rounding can decide it."""
    model.eval()
    B, L, V = labels.shape[0], model.L, model.V
    dev = labels.device
    null = torch.full_like(labels, model.config["num_classes"])
    ids = torch.full((B, L), V, dtype=torch.long, device=dev)
    prev_c = prev_u = prev_g = None
    w = wg = 0.0
    if guide is not None and guide_w == 0:
        guide = None
    for step in range(steps):
        ratio = (step + 1) / steps
        n_mask = int(math.floor(L * math.cos(ratio * math.pi * 0.5)))
        temp = max(samp_temp * (1 - ratio), 1e-3)
        amp = (torch.autocast(dev.type, dtype=autocast_dtype) if autocast_dtype is not None
               else contextlib.nullcontext())
        with amp:
            prev_c = model(ids, labels, prev_c)
            prev_u = model(ids, null, prev_u)
            if guide is not None:
                prev_g = guide(ids, labels, prev_g)
        cond, uncond = prev_c["logits"].float(), prev_u["logits"].float()
        z = cond + w * (cond - uncond)
        if guide is not None:
            z = z + wg * (cond - prev_g["logits"].float())
        logp = torch.log_softmax(z, dim=-1)  # [B, L, V]
        is_mask = ids == V
        if noise is None:
            probs = torch.softmax(logp / temp, dim=-1)
            drawn = torch.multinomial(probs.reshape(-1, V), 1, generator=generator).reshape(B, L)
            g = -torch.log(-torch.log(torch.rand(B, L, device=dev, generator=generator).clamp_(1e-20, 1 - 1e-7)))
        else:
            probs = torch.softmax(logp / temp, dim=-1)
            margins = []
            drawn = draw_inverse_cdf(probs.reshape(-1, V), noise[0][step].reshape(-1), margins).reshape(B, L)
            g = noise[1][step].to(dev).float()
        sampled = torch.where(is_mask, drawn, ids)
        picked = torch.gather(logp, -1, sampled.unsqueeze(-1)).squeeze(-1)
        # the noise is rounded to float32 before it is added (seer, and the reference's
        # torch.Tensor(temperature * np.random.gumbel(...)))
        conf = torch.where(is_mask, picked + (mask_temp * (1 - ratio) * g.double()).float(),
                           torch.full_like(picked, float("inf")))
        srt = torch.sort(conf, dim=-1, stable=True)  # ties keep position order
        order = srt.indices
        if ties is not None and noise is not None:
            m = torch.from_numpy(margins[0]).reshape(B, L).to(ties.device)
            m = torch.where(is_mask.to(ties.device), m, torch.ones_like(m)).min(1).values
            if 0 < n_mask < L:
                m = torch.minimum(m, (srt.values[:, n_mask] - srt.values[:, n_mask - 1]).abs().double().to(ties.device))
            ties.copy_(torch.minimum(ties, m) if step else m)
        remask = torch.zeros_like(is_mask)
        remask.scatter_(1, order[:, :n_mask], True)
        ids = torch.where(remask, torch.full_like(sampled, V), sampled)
        w = ratio * cfg
        wg = ratio * guide_w
    return ids


# ---- training-side helpers (ENAT's libs/nat_misc.py NATSchedule and train.py LSimple) ------

def masked_count(L, ratio):
    """How many of L positions sample_masking masks at this ratio: round(L r) within [1, L - 1]."""
    return int(min(max(round(L * float(ratio)), 1), L - 1))


def sample_masking(B, L, device, ratio, generator=None):
    """[B, L] bool with round(L * ratio) (clamped to [1, L - 1]) random positions per row."""
    n = masked_count(L, ratio)
    r = torch.rand(B, L, device=device, generator=generator)
    return r.argsort(dim=1).argsort(dim=1) < n


def mask_ratio(kind, device, generator=None):
    """One masking ratio for a batch: ENAT trains with Beta(12, 3); MaskGIT's cosine schedule
    (cos(pi u / 2), u ~ U(0, 1)) covers the low ratios of a many-step sampler better."""
    u = torch.rand((), device=device, generator=generator)
    if kind == "cosine":
        return torch.cos(u * math.pi / 2).item()
    return torch.distributions.Beta(12.0, 3.0).sample().item()


def more_masked(masking, n_visible, u, generator=None):
    """ENAT's reuse training: also mask round(u * n_visible) of the n_visible visible positions
    (the same count in every row; u uniform in [0, 1), drawn by the caller), giving the 'previous
    step' masking (a superset of masking)."""
    B, L = masking.shape
    device = masking.device
    k = int(round(n_visible * u))
    r = torch.rand(B, L, device=device, generator=generator)
    r = torch.where(masking, torch.full_like(r, 2.0), r)  # only visible positions compete
    extra = r.argsort(dim=1).argsort(dim=1) < k
    return masking | extra


def from_seer_file(path, device="cpu"):
    """(ENAT with the weights and config of a seer ENAT file (F16 or F32), its metadata)."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import seer_st
    sd, md = seer_st.read_safetensors(path)
    model = ENAT(grid=int(md["enat.grid"]), hidden=int(md["enat.hidden_size"]), heads=int(md["enat.num_heads"]),
                 depth_enc=int(md["enat.depth_enc"]), depth_dec=int(md["enat.depth_dec"]),
                 codebook_size=int(md["enat.codebook_size"]), num_classes=int(md["enat.num_classes"]))
    sd = {k: torch.from_numpy(v.astype("float32")) for k, v in sd.items() if not k.startswith("prev_embedder.")}
    model.load_state_dict(sd)
    return model.to(device).eval(), md


def spread(n_old, n_new):
    """Where n_old blocks go among n_new >= n_old (evenly, in order): [position per old block]."""
    return [i * n_new // n_old for i in range(n_old)]


def grow_into(big, small):
    """Loads `small` into the deeper ENAT `big` (same hidden size and heads) so that big computes
    exactly what small does (a function-preserving start for a larger generator): small's encoder
    blocks spread evenly over big's encoder and its decoder blocks over big's decoder; big's other
    blocks keep their fresh initialisation, whose zero adaLN modulation (as every block at the
    start of training) makes each exactly the identity until trained. The embeddings, prev_proj
    and head are copied. ValueError if big is not deeper; RuntimeError on other size mismatches."""
    c, C = small.config, big.config
    if C["depth_enc"] < c["depth_enc"] or C["depth_dec"] < c["depth_dec"]:
        raise ValueError(f"cannot grow {c['depth_enc']}+{c['depth_dec']} blocks into {C['depth_enc']}+{C['depth_dec']}")
    sd = {k: v for k, v in small.state_dict().items() if not k.startswith("blocks.")}
    moves = list(enumerate(spread(c["depth_enc"], C["depth_enc"])))
    moves += [(c["depth_enc"] + i, C["depth_enc"] + p) for i, p in enumerate(spread(c["depth_dec"], C["depth_dec"]))]
    for old, new in moves:
        sd.update({f"blocks.{new}.{k}": v for k, v in small.blocks[old].state_dict().items()})
    missing, unexpected = big.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.startswith("blocks.") for k in missing), (missing, unexpected)
    return big


def grow(small, depth_enc, depth_dec):
    """small grown to depth_enc + depth_dec blocks (grow_into a freshly built ENAT)."""
    big = ENAT(**{**small.config, "depth_enc": depth_enc, "depth_dec": depth_dec})
    return grow_into(big.to(next(small.parameters()).device), small).train(small.training)
