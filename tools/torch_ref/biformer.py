"""BiFormer (Zhu et al., CVPR 2023, "BiFormer: Vision Transformer with Bi-Level Routing
Attention"), with the state_dict keys of the official rayleizhu/BiFormer models/biformer.py and
the attention of ops/bra_legacy.py (the one the released checkpoints use): downsample_layers.*,
stages.{i}.{j}.{pos_embed,norm1,attn,norm2,mlp}.*, norm.*, head.*; these are the names seer's
loader (backbones/biformer.c) reads. Our own definition, written from the paper and the official
model's structure:

    stem: conv 3x3 s2 + BN, GELU, conv 3x3 s2 + BN; between stages conv 3x3 s2 + BN;
    block: x = x + pos_embed(x)                (depthwise 3x3)
           x = x + attn(LN1(x))                 bi-level routing attention (topk > 0) or full
                                                attention with LePE (topk = -2)
           x = x + mlp(LN2(x))                  Linear, GELU, Linear; LayerNorm eps 1e-6
    head: BatchNorm2d, mean over positions, Linear.

Bi-level routing attention over S x S regions (S = n_win): per-pixel q, k, v (one Linear);
region-mean q and k give region affinities (scale qk_dim^-0.5, detached: the top-k is not
differentiable, as in the reference); each region's pixels attend to the pixels of its top-k
regions (gradients flow through the gathered k and v); plus LePE, a depthwise 5x5 conv over v as
a map; then the output Linear wo. Only the configuration the presets use is built
(kv_downsample_mode 'identity', param_attention 'qkvo', no param/diff/soft routing, pre-norm,
no layer scale).

The stem's two strides are 2, 2 in every official preset; `stem_strides` (seer metadata
seer.stem_strides) changes them for small inputs.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layers import DropPath  # noqa: E402  (also when imported as torch_ref.<module>)

_SDPA = hasattr(F, "scaled_dot_product_attention")
# The scale= argument of F.scaled_dot_product_attention exists from torch 2.1.
_SDPA_SCALE = _SDPA and tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 1)


def attention(q, k, v, scale):
    """softmax(q k^T * scale) v over the last two dims; q, k: [..., L, d_qk], v: [..., L, d_v]."""
    if _SDPA_SCALE:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    return torch.softmax((q * scale) @ k.transpose(-2, -1), dim=-1) @ v


class QKVLinear(nn.Module):
    """One Linear dim -> qk_dim + qk_dim + dim (key qkv.qkv, as the official module nests it)."""

    def __init__(self, dim, qk_dim):
        super().__init__()
        self.qkv = nn.Linear(dim, 2 * qk_dim + dim)

    def forward(self, x):
        return self.qkv(x)


def to_regions(x, S):
    """[n, S*h, S*w, c] -> [n, S*S, h*w, c]; region j*S + i = rows j*h.., columns i*w..."""
    n, H, W, c = x.shape
    x = x.reshape(n, S, H // S, S, W // S, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, S * S, (H // S) * (W // S), c)


def from_regions(x, S, h, w):
    """[n, S*S, h*w, c] -> [n, S*h, S*w, c] (the inverse of to_regions)."""
    n, _, _, c = x.shape
    x = x.reshape(n, S, S, h, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, S * h, S * w, c)


class BiLevelRoutingAttention(nn.Module):
    """x: [n, H, W, dim] -> [n, H, W, dim]. Keys qkv.qkv, wo, lepe."""

    def __init__(self, dim, qk_dim, num_heads, n_win, topk, side_dwconv=5, auto_pad=False):
        super().__init__()
        assert qk_dim % num_heads == 0 and dim % num_heads == 0, "dims must split into heads"
        self.dim, self.qk_dim, self.heads = dim, qk_dim, num_heads
        self.n_win, self.topk, self.auto_pad = n_win, topk, auto_pad
        self.scale = qk_dim ** -0.5  # the whole qk width, not the head width (as the reference)
        self.qkv = QKVLinear(dim, qk_dim)
        self.wo = nn.Linear(dim, dim)
        self.lepe = nn.Conv2d(dim, dim, side_dwconv, padding=side_dwconv // 2, groups=dim)

    def route(self, q_pix, k_pix):
        """Region-level routing: [n, R, topk] indices of the regions whose mean key is most
        similar to each region's mean query. Detached: the top-k gives no gradient."""
        q_win, k_win = q_pix.detach().mean(2), k_pix.detach().mean(2)  # [n, R, qk]
        logits = (q_win * self.scale) @ k_win.transpose(-2, -1)  # [n, R, R]
        return torch.topk(logits, self.topk, dim=-1).indices

    def forward(self, x):
        n, H_in, W_in, _ = x.shape
        S = self.n_win
        pad_b, pad_r = (S - H_in % S) % S, (S - W_in % S) % S
        if pad_b or pad_r:
            assert self.auto_pad, f"map {H_in}x{W_in} is not divisible by n_win = {S}"
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))  # zeros at the bottom and right
        H, W = H_in + pad_b, W_in + pad_r
        h, w = H // S, W // S
        R, P, qk, C, m = S * S, h * w, self.qk_dim, self.dim, self.heads

        qkv = self.qkv(to_regions(x, S))  # [n, R, P, 2 qk + C]
        q_pix, kv_pix = qkv[..., :qk], qkv[..., qk:]
        idx = self.route(q_pix, kv_pix[..., :qk])  # [n, R, topk]

        # Gather the routed regions' k and v: [n, R, topk, P, qk + C] (one flat index_select,
        # differentiable in kv_pix).
        base = torch.arange(n, device=x.device).view(n, 1, 1) * R
        sel = kv_pix.reshape(n * R, P * (qk + C)).index_select(0, (idx + base).reshape(-1))
        sel = sel.reshape(n * R, self.topk * P, qk + C)
        k_sel = sel[..., :qk].reshape(n * R, -1, m, qk // m).transpose(1, 2)  # [nR, m, kP, dq]
        v_sel = sel[..., qk:].reshape(n * R, -1, m, C // m).transpose(1, 2)  # [nR, m, kP, dv]
        q = q_pix.reshape(n * R, P, m, qk // m).transpose(1, 2)  # [nR, m, P, dq]
        out = attention(q, k_sel, v_sel, self.scale)  # [nR, m, P, dv]
        out = out.transpose(1, 2).reshape(n, R, P, C)
        out = from_regions(out, S, h, w)  # [n, H, W, C]

        v_map = from_regions(kv_pix[..., qk:], S, h, w)  # LePE over v as a map
        out = out + self.lepe(v_map.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        out = self.wo(out)
        return out[:, :H_in, :W_in] if (pad_b or pad_r) else out


class AttentionLePE(nn.Module):
    """Full multi-head attention plus LePE (a depthwise conv over the input), for topk = -2.
    x: [n, H, W, dim] -> [n, H, W, dim]. Keys qkv (no bias), proj, lepe."""

    def __init__(self, dim, num_heads=8, side_dwconv=5):
        super().__init__()
        self.heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.lepe = nn.Conv2d(dim, dim, side_dwconv, padding=side_dwconv // 2, groups=dim)

    def forward(self, x):
        n, H, W, C = x.shape
        m = self.heads
        qkv = self.qkv(x).reshape(n, H * W, 3, m, C // m).permute(2, 0, 3, 1, 4)
        out = attention(qkv[0], qkv[1], qkv[2], self.scale)  # [n, m, HW, d]
        out = out.transpose(1, 2).reshape(n, H, W, C)
        out = out + self.lepe(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, dim, qk_dim, num_heads, n_win, topk, mlp_ratio, drop_path=0.0,
                 auto_pad=False):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if topk > 0:
            self.attn = BiLevelRoutingAttention(dim, qk_dim, num_heads, n_win, topk,
                                                auto_pad=auto_pad)
        elif topk == -2:
            self.attn = AttentionLePE(dim)  # built with its default 8 heads, as the reference
        else:
            raise ValueError(f"topk {topk}: only k > 0 (routing) and -2 (full attention) are built")
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(mlp_ratio * dim)
        # Keys mlp.0 and mlp.3 (mlp.1, the optional dwconv, is an identity in every preset).
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.Identity(), nn.GELU(),
                                 nn.Linear(hidden, dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x):  # x: [n, C, H, W]
        x = x + self.pos_embed(x)
        x = x.permute(0, 2, 3, 1)  # [n, H, W, C]
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x.permute(0, 3, 1, 2)


def conv_bn(c_in, c_out, stride):
    return [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out)]


class BiFormer(nn.Module):
    def __init__(self, depths=(2, 2, 8, 2), embed_dims=(64, 128, 256, 512),
                 qk_dims=(64, 128, 256, 512), topks=(1, 4, 16, -2), mlp_ratios=(3, 3, 3, 3),
                 head_dim=32, n_win=7, auto_pad=False, stem_strides=(2, 2), num_classes=1000,
                 drop_path_rate=0.0):
        super().__init__()
        d = embed_dims
        self.config = dict(depths=list(depths), embed_dims=list(embed_dims),
                           qk_dims=list(qk_dims), topks=list(topks), mlp_ratios=list(mlp_ratios),
                           head_dim=head_dim, n_win=n_win, auto_pad=auto_pad,
                           stem_strides=list(stem_strides))
        stem = conv_bn(3, d[0] // 2, stem_strides[0]) + [nn.GELU()]
        stem += conv_bn(d[0] // 2, d[0], stem_strides[1])
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(*stem)] + [nn.Sequential(*conv_bn(d[i], d[i + 1], 2)) for i in range(3)])
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages, n = nn.ModuleList(), 0
        for i in range(4):
            self.stages.append(nn.Sequential(*[
                Block(d[i], qk_dims[i], qk_dims[i] // head_dim, n_win, topks[i], mlp_ratios[i],
                      rates[n + j], auto_pad) for j in range(depths[i])]))
            n += depths[i]
        self.norm = nn.BatchNorm2d(d[3])
        self.head = nn.Linear(d[3], num_classes)
        self.apply(_init_weights)

    def stages_out(self, x):
        """x: [n, 3, H, W] -> the four stage outputs [n, C_i, H_i, W_i] (before self.norm)."""
        out = []
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
            out.append(x)
        return out

    def features(self, x):
        return self.norm(self.stages_out(x)[-1]).mean((2, 3))  # [n, C_4]

    def forward(self, x):
        return self.head(self.features(x))


def _init_weights(m):
    """The official init: trunc_normal(0.02) Linear weights with zero bias, LayerNorm 1/0; convs
    and BatchNorm keep PyTorch's defaults."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ---- CIFAR-10 -------------------------------------------------------------------------------
# Stem strides 1, 2 (instead of 2, 2): stage maps 16, 8, 4, 2 on 32x32. With n_win = 4 every
# routed stage has 16 regions: stage 1 regions of 4x4 pixels, each routed to 4 of 16 (a query
# sees 64 of 256 pixels); stage 2 regions of 2x2, routed to 8 of 16 (32 of 64 pixels); stage 3
# single pixels, routed to 8 of 16. Stage 4 (2x2) is full attention with LePE, as in the
# presets. head_dim 32 as in the presets (2, 4, 5 heads; 6 in stage 4).
CIFAR = dict(depths=(2, 2, 4, 1), embed_dims=(64, 128, 160, 192), qk_dims=(64, 128, 160, 192),
             topks=(4, 8, 8, -2), mlp_ratios=(3, 3, 3, 3), head_dim=32, n_win=4,
             auto_pad=False, stem_strides=(1, 2))


def build_cifar(drop_path_rate=0.1):
    return BiFormer(num_classes=10, drop_path_rate=drop_path_rate, **CIFAR)


def _csv(v):
    return ",".join(str(e) for e in v)


def metadata(depths, embed_dims, qk_dims, topks, mlp_ratios, head_dim, n_win, auto_pad=False,
             stem_strides=(2, 2), num_classes=1000, arch="biformer_tiny"):
    """seer metadata for a BiFormer config, as backbones/biformer.c reads it (any biformer_*
    preset name: the metadata gives the whole config)."""
    return {"seer.arch": arch, "seer.depths": _csv(depths), "seer.embed_dims": _csv(embed_dims),
            "seer.qk_dims": _csv(qk_dims), "seer.topks": _csv(topks),
            "seer.mlp_ratios": _csv(mlp_ratios), "seer.head_dim": str(head_dim),
            "seer.n_win": str(n_win), "seer.auto_pad": str(int(auto_pad)),
            "seer.stem_strides": _csv(stem_strides), "seer.num_classes": str(num_classes)}


def cifar_metadata():
    return dict(metadata(num_classes=10, **CIFAR), **{"seer.preprocess": "cifar",
                                                      "seer.labels": "cifar10"})


def from_metadata(meta):
    """The BiFormer that metadata() describes (the golden fixtures' weight files); stem strides
    2, 2 and 1,000 classes where it does not say."""
    def nums(key, kind=int):
        return [kind(v) for v in meta[key].split(",")]
    return BiFormer(depths=nums("seer.depths"), embed_dims=nums("seer.embed_dims"),
                    qk_dims=nums("seer.qk_dims"), topks=nums("seer.topks"),
                    mlp_ratios=nums("seer.mlp_ratios", float), head_dim=int(meta["seer.head_dim"]),
                    n_win=int(meta["seer.n_win"]), auto_pad=meta["seer.auto_pad"] == "1",
                    stem_strides=nums("seer.stem_strides") if "seer.stem_strides" in meta else (2, 2),
                    num_classes=int(meta.get("seer.num_classes", 1000)))
