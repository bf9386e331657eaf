"""VOLO (Yuan et al. 2021, "VOLO: Vision Outlooker for Visual Recognition") as timm's volo.py
evaluates it, written from the paper and timm's module layout; state_dict keys are timm's
(= the official sail-sg/volo checkpoints' = what backbones/volo.c reads):

  patch_embed.conv.{0,3,6}.weight, patch_embed.conv.{1,4,7}.*   7x7/2, 3x3, 3x3 conv+BN+ReLU
  patch_embed.proj.*                conv, kernel = stride = patch_size / 2
  network.0.{i}.*                   outlooker blocks (norm1, attn.{v,attn,proj}, norm2, mlp.fc*)
  network.1.proj.*                  2x2/2 downsample
  pos_embed [1, g, g, C]            added after the downsample
  network.{s+1}.{i}.*               transformer stages (attn.{qkv,proj})
  cls_token, post_network.{i}.*     class-attention blocks (attn.{kv,q,proj})
  norm, head, aux_head

The output, in train and eval mode alike (timm's forward): head(pooled) + 0.5 * max over tokens
of aux_head(tokens[1:]) when there is an aux head.

One extension over timm: patch_size 2 (timm asserts 4, 8 or 16), i.e. a 1x1 patch projection
after the stride-2 stem, so a 32x32 CIFAR image gives a 16x16 outlooker grid. backbones/volo.c
accepts it too; check_volo.py proves it equal to timm's code with only the projection swapped.
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch.nn.init import trunc_normal_  # cut at +-2 (absolute), as timm's

PATCH_SIZES = (2, 4, 8, 16)


def drop_path(x, p, training):
    """Stochastic depth: zero a sample's residual branch with probability p (rescaled)."""
    if p == 0.0 or not training:
        return x
    keep = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
    return x * keep.bernoulli_(1.0 - p) / (1.0 - p)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class OutlookAttention(nn.Module):
    """Each stride x stride cell's mean predicts, per head, a (k*k) x (k*k) attention over the
    k x k window of values around the cell; the window outputs are folded back (summed) onto
    the positions they came from. Zero-padded window slots take part in the softmax."""

    def __init__(self, dim, num_heads, kernel_size=3, padding=1, stride=2, qkv_bias=False):
        super().__init__()
        self.num_heads, self.k, self.pad, self.stride = num_heads, kernel_size, padding, stride
        self.scale = (dim // num_heads) ** -0.5
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn = nn.Linear(dim, kernel_size ** 4 * num_heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # x: [B, H, W, C]
        B, H, W, C = x.shape
        nh, kk, s = self.num_heads, self.k * self.k, self.stride
        h, w = math.ceil(H / s), math.ceil(W / s)
        # values in windows: [B, C * kk, h * w] -> [B, heads, hw, kk, C / heads]
        v = F.unfold(self.v(x).permute(0, 3, 1, 2), self.k, padding=self.pad, stride=s)
        v = v.reshape(B, nh, C // nh, kk, h * w).permute(0, 1, 4, 3, 2)
        # attention from the cell means: [B, heads, hw, kk, kk]
        cells = F.avg_pool2d(x.permute(0, 3, 1, 2), s, s, ceil_mode=True) if s > 1 else \
            x.permute(0, 3, 1, 2)
        a = self.attn(cells.permute(0, 2, 3, 1)).reshape(B, h * w, nh, kk, kk).transpose(1, 2)
        a = (a * self.scale).softmax(-1)
        out = (a @ v).permute(0, 1, 4, 3, 2).reshape(B, C * kk, h * w)
        out = F.fold(out, (H, W), self.k, padding=self.pad, stride=s)  # [B, C, H, W]
        return self.proj(out.permute(0, 2, 3, 1))


class Outlooker(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias, kernel_size, padding, stride,
                 drop_path=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = OutlookAttention(dim, num_heads, kernel_size, padding, stride, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = drop_path

    def forward(self, x):
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


def attention(q, k, v, scale):
    """softmax(scale * q k^T) v over the last two dims; fused where torch has it (>= 2.0)."""
    if hasattr(F, "scaled_dot_product_attention"):
        try:
            return F.scaled_dot_product_attention(q, k, v, scale=scale)
        except TypeError:  # torch 2.0: no scale argument; the default is head_dim ** -0.5
            if abs(scale - q.shape[-1] ** -0.5) < 1e-12:
                return F.scaled_dot_product_attention(q, k, v)
    return ((q * scale) @ k.transpose(-2, -1)).softmax(-1) @ v


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # x: [B, N, C]
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # [B, heads, N, hd]
        o = attention(q, k, v, (C // self.num_heads) ** -0.5)
        return self.proj(o.transpose(1, 2).reshape(B, N, C))


class Transformer(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias, drop_path=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = drop_path

    def forward(self, x):
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class ClassAttention(nn.Module):
    """CaiT's class attention: only the class token (x[:, 0]) queries; all tokens are keys."""

    def __init__(self, dim, num_heads, qkv_bias):
        super().__init__()
        self.num_heads = num_heads
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # [B, 1 + N, C] -> [B, 1, C]
        B, N, C = x.shape
        hd = C // self.num_heads
        k, v = self.kv(x).reshape(B, N, 2, self.num_heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
        q = self.q(x[:, :1]).reshape(B, 1, self.num_heads, hd).transpose(1, 2)
        o = attention(q, k, v, hd ** -0.5)  # [B, heads, 1, hd]
        return self.proj(o.transpose(1, 2).reshape(B, 1, C))


class ClassBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ClassAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        cls = x[:, :1] + self.attn(self.norm1(x))
        cls = cls + self.mlp(self.norm2(cls))
        return torch.cat([cls, x[:, 1:]], 1)


class PatchEmbed(nn.Module):
    """7x7/2 + 3x3 + 3x3 conv-BN-ReLU stem, then a conv of kernel = stride = patch_size / 2."""

    def __init__(self, patch_size, hidden, dim):
        super().__init__()
        layers, cin = [], 3
        for k, s in ((7, 2), (3, 1), (3, 1)):
            layers += [nn.Conv2d(cin, hidden, k, s, k // 2, bias=False), nn.BatchNorm2d(hidden),
                       nn.ReLU(inplace=True)]
            cin = hidden
        self.conv = nn.Sequential(*layers)
        p = patch_size // 2
        self.proj = nn.Conv2d(hidden, dim, p, p)

    def forward(self, x):  # [B, 3, H, W] -> [B, C, H / p, W / p]
        return self.proj(self.conv(x))


class Downsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 2, 2)

    def forward(self, x):  # NHWC in and out
        return self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class VOLO(nn.Module):
    """timm's VOLO kwargs (those seer's seer.config reads) plus the official repo's outlook
    window (out_kernel, out_stride, out_padding). The stage layout is VOLO's only one:
    outlookers in stage 0, a 2x2 downsample, transformers in stages 1..n-1."""

    def __init__(self, layers, embed_dims, num_heads, img_size=224, patch_size=8,
                 stem_hidden_dim=64, mlp_ratio=3.0, qkv_bias=False, post_layers=("ca", "ca"),
                 use_aux_head=True, global_pool="token", num_classes=1000, out_kernel=3,
                 out_stride=2, out_padding=1, drop_path_rate=0.0):
        super().__init__()
        n = len(layers)
        assert n >= 2 and len(embed_dims) == n and len(num_heads) == n
        assert patch_size in PATCH_SIZES and global_pool in ("token", "avg")
        assert all(d == embed_dims[1] for d in embed_dims[1:]), "one dim after the downsample"
        ratios = list(mlp_ratio) if isinstance(mlp_ratio, (list, tuple)) else [mlp_ratio] * n
        self.global_pool = global_pool
        self.patch_embed = PatchEmbed(patch_size, stem_hidden_dim, embed_dims[0])
        g = img_size // patch_size // 2
        self.pos_embed = nn.Parameter(torch.zeros(1, g, g, embed_dims[-1]))

        # stochastic depth grows linearly over all blocks (official VOLO; off at eval)
        total, dprs = sum(layers), []
        for i in range(total):
            dprs.append(drop_path_rate * i / max(total - 1, 1))
        network = [nn.Sequential(*[
            Outlooker(embed_dims[0], num_heads[0], ratios[0], qkv_bias, out_kernel, out_padding,
                      out_stride, dprs[i]) for i in range(layers[0])])]
        network.append(Downsample(embed_dims[0], embed_dims[1]))
        start = layers[0]
        for s in range(1, n):
            network.append(nn.Sequential(*[
                Transformer(embed_dims[s], num_heads[s], ratios[s], qkv_bias, dprs[start + i])
                for i in range(layers[s])]))
            start += layers[s]
        self.network = nn.ModuleList(network)

        d = embed_dims[-1]
        self.post_network = None
        if post_layers:
            assert all(t == "ca" for t in post_layers)
            self.post_network = nn.ModuleList(
                [ClassBlock(d, num_heads[-1], ratios[-1], qkv_bias) for _ in post_layers])
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.aux_head = nn.Linear(d, num_classes) if use_aux_head else None
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """timm's init: trunc-normal(0.02) linears with zero bias, pos_embed and cls_token;
        convolutions, norms keep PyTorch's defaults."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        trunc_normal_(self.pos_embed, std=0.02)
        if self.post_network is not None:
            trunc_normal_(self.cls_token, std=0.02)

    def forward_tokens(self, x):
        """[B, 3, H, W] -> tokens after the transformer stages [B, N, C]."""
        x = self.patch_embed(x).permute(0, 2, 3, 1)  # [B, h, w, C0]
        x = self.network[0](x)  # outlookers
        x = self.network[1](x) + self.pos_embed  # downsample: [B, h/2, w/2, C]
        x = x.flatten(1, 2)
        for stage in self.network[2:]:
            x = stage(x)
        return x

    def forward_features(self, x):
        """Tokens after the class blocks and the final norm: [B, (1 +) N, C]."""
        x = self.forward_tokens(x)
        if self.post_network is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
            for blk in self.post_network:
                x = blk(x)
        return self.norm(x)

    def pool(self, t):
        return t.mean(1) if self.global_pool == "avg" else t[:, 0]

    def forward(self, x):
        t = self.forward_features(x)
        out = self.head(self.pool(t))
        if self.aux_head is not None:
            # token labeling's eval rule: the best-scoring token per class adds half its score
            out = out + 0.5 * self.aux_head(t[:, 1:]).max(1)[0]
        return out


# ---- CIFAR-10 ----------------------------------------------------------------------------------
# 32x32 -> stem 7x7/2 -> 16x16, 1x1 patch projection -> 4 outlookers on the 16x16 grid (outlook
# windows 3x3 around 8x8 cells) -> 2x2 downsample -> 4 transformers on 8x8 = 64 tokens -> two
# class-attention blocks, class-token head + token-labeling aux head.
CIFAR_CONFIG = dict(layers=[4, 4], embed_dims=[128, 160], num_heads=[4, 5], img_size=32,
                    patch_size=2, stem_hidden_dim=64, mlp_ratio=3.0, qkv_bias=False,
                    post_layers=["ca", "ca"], use_aux_head=True, global_pool="token",
                    num_classes=10)
CIFAR_ARCH = "volo_cifar"


def build_cifar(drop_path_rate=0.1):
    return VOLO(**CIFAR_CONFIG, drop_path_rate=drop_path_rate)


def cifar_metadata():
    return {"seer.arch": CIFAR_ARCH, "seer.preprocess": "cifar",
            "seer.config": json.dumps(CIFAR_CONFIG)}
