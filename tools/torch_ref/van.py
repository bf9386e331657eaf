"""VAN, the Visual Attention Network (Guo et al., "Visual Attention Network", 2022), with the
state_dict keys of the official VAN-Classification models/van.py (patch_embed{i}.proj/norm,
block{i}.{j}.{norm1,attn,norm2,mlp,layer_scale_1,layer_scale_2}, norm{i}, head), which are the
names seer's loader (backbones/van.c) reads. Our own definition, written from the paper and the
official model's structure:

    stage i: overlapping patch embedding (conv k x k, stride s, padding k // 2, + BatchNorm),
             blocks  x = x + ls1 * Attn(BN1(x)),  Attn(n) = proj_2(LKA(GELU(proj_1(n)))) + n
                     LKA(u) = u * conv1(conv_spatial(conv0(u)))  (dw 5x5, dw 7x7 dilation 3, 1x1)
                     x = x + ls2 * fc2(GELU(dwconv3x3(fc1(BN2(x)))))
             then LayerNorm (eps 1e-6) over channels;
    head: Linear on the mean of the last stage's tokens.

The first patch embedding is 7x7 stride 4 in every official preset; `stem_kernel` and
`stem_stride` (seer metadata seer.stem_kernel / seer.stem_stride) change it for small inputs.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layers import DropPath  # noqa: E402  (also when imported as torch_ref.<module>)


class PatchEmbed(nn.Module):
    """Overlapping patch embedding: conv (with bias) + BatchNorm2d. Keys proj, norm."""

    def __init__(self, c_in, c_out, kernel, stride):
        super().__init__()
        self.proj = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2)
        self.norm = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.norm(self.proj(x))


class LKA(nn.Module):
    """Large kernel attention: a 21x21-ish receptive field from dw 5x5, dw 7x7 dilation 3, 1x1,
    used as a gate on its input."""

    def __init__(self, dim):
        super().__init__()
        self.conv0 = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv_spatial = nn.Conv2d(dim, dim, 7, padding=9, dilation=3, groups=dim)
        self.conv1 = nn.Conv2d(dim, dim, 1)

    def forward(self, u):
        return u * self.conv1(self.conv_spatial(self.conv0(u)))


class Attention(nn.Module):
    """proj_2(LKA(GELU(proj_1(x)))) + x. Keys proj_1, spatial_gating_unit, proj_2."""

    def __init__(self, dim):
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.spatial_gating_unit = LKA(dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        return self.proj_2(self.spatial_gating_unit(F.gelu(self.proj_1(x)))) + x


class DWConv(nn.Module):
    """Depthwise 3x3 (key dwconv.dwconv, as the official Mlp nests it)."""

    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x):
        return self.dwconv(x)


class Mlp(nn.Module):
    """fc2(GELU(dwconv(fc1(x)))), 1x1 convs. Dropout is 0 in every official preset: omitted."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = DWConv(hidden)
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        return self.fc2(F.gelu(self.dwconv(self.fc1(x))))


class Block(nn.Module):
    def __init__(self, dim, mlp_ratio, drop_path=0.0, layer_scale_init=1e-2):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = Attention(dim)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))  # int(), as the official Block truncates
        self.layer_scale_1 = nn.Parameter(layer_scale_init * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(layer_scale_init * torch.ones(dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x):  # x: [B, C, H, W]
        x = x + self.drop_path(self.layer_scale_1[:, None, None] * self.attn(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x)))


class VAN(nn.Module):
    def __init__(self, embed_dims=(64, 128, 256, 512), depths=(3, 4, 6, 3),
                 mlp_ratios=(8, 8, 4, 4), num_classes=1000, stem_kernel=7, stem_stride=4,
                 drop_path_rate=0.0, ln_eps=1e-6):
        super().__init__()
        self.embed_dims, self.depths, self.mlp_ratios = list(embed_dims), list(depths), list(mlp_ratios)
        self.stem_kernel, self.stem_stride = stem_kernel, stem_stride
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()  # linear decay rule
        c_in, n = 3, 0
        for i in range(4):
            k, s = (stem_kernel, stem_stride) if i == 0 else (3, 2)
            setattr(self, f"patch_embed{i + 1}", PatchEmbed(c_in, embed_dims[i], k, s))
            setattr(self, f"block{i + 1}", nn.ModuleList(
                Block(embed_dims[i], mlp_ratios[i], rates[n + j]) for j in range(depths[i])))
            setattr(self, f"norm{i + 1}", nn.LayerNorm(embed_dims[i], eps=ln_eps))
            c_in, n = embed_dims[i], n + depths[i]
        self.head = nn.Linear(embed_dims[3], num_classes)
        self.apply(_init_weights)

    def stages(self, x):
        """x: [B, 3, H, W] -> the four stage outputs [B, C_i, H_i, W_i] after their LayerNorm."""
        out = []
        for i in range(1, 5):
            x = getattr(self, f"patch_embed{i}")(x)
            for blk in getattr(self, f"block{i}"):
                x = blk(x)
            fmt = (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
                   else torch.contiguous_format)
            x = getattr(self, f"norm{i}")(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            x = x.contiguous(memory_format=fmt)  # as it came: a no-op in channels_last training
            out.append(x)
        return out

    def features(self, x):
        return self.stages(x)[-1].mean((2, 3))  # [B, C_4]: mean token

    def forward(self, x):
        return self.head(self.features(x))


def _init_weights(m):
    """The official init: trunc_normal(0.02) Linear with zero bias; conv weights
    N(0, sqrt(2 / fan_out)) with fan_out = k*k*c_out/groups and zero bias; LayerNorm 1/0;
    BatchNorm as PyTorch's default; layer scales 1e-2."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
        nn.init.zeros_(m.bias)


# ---- CIFAR-10 -------------------------------------------------------------------------------
# A 7x7 stride-2 first patch embedding (instead of stride 4): stage maps 16, 8, 4, 2 on 32x32,
# so LKA (5x5 + 7x7 dilated: ~21x21 receptive field) works on a 16x16 and an 8x8 map where it
# covers the whole image. Width goes to the 16x16/8x8 stages, where CIFAR's information is;
# stage 4 (2x2) is kept to one narrow block (the shipped models share a 40 MB budget). BatchNorm everywhere but the stage norms: trains fast.
CIFAR = dict(embed_dims=(64, 128, 160, 192), depths=(2, 2, 4, 1), mlp_ratios=(8, 8, 4, 2),
             stem_kernel=7, stem_stride=2)


def build_cifar(drop_path_rate=0.1):
    return VAN(num_classes=10, drop_path_rate=drop_path_rate, **CIFAR)


def _csv(v):
    return ",".join(str(e) for e in v)


def metadata(embed_dims, depths, mlp_ratios, stem_kernel=7, stem_stride=4, num_classes=1000,
             arch="van_b0"):
    """seer metadata for a VAN config, as backbones/van.c reads it (any van_* preset name: the
    metadata gives the whole config)."""
    return {"seer.arch": arch, "seer.embed_dims": _csv(embed_dims), "seer.depths": _csv(depths),
            "seer.mlp_ratios": _csv(mlp_ratios), "seer.stem_kernel": str(stem_kernel),
            "seer.stem_stride": str(stem_stride), "seer.num_classes": str(num_classes)}


def cifar_metadata():
    return dict(metadata(num_classes=10, **CIFAR), **{"seer.preprocess": "cifar",
                                                      "seer.labels": "cifar10"})
