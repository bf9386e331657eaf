"""HaloNet (Vaswani et al. 2021, "Scaling Local Self-Attention for Parameter Efficient Visual
Backbones") and its timm relatives (byoanet.py: halonet26t, sehalonet33ts, eca_halonext26ts,
halo2botnet50ts_256, haloregnetz_b, halonet_h1), built the way timm's ByobNet builds them, written
from the papers and timm's module layout. state_dict keys are timm's (= what backbones/halonet.c
reads): stem[.convN].{conv,bn}, stages.{s}.{i}.{shortcut,conv1_1x1,conv2_kxk,attn,self_attn,
post_attn,conv3_1x1}, final_conv, head.fc.

A network is described by seer's config string (the grammar at the top of
backbones/halonet_cfg.c, parsed here by parse_config), so a model and the metadata seer reads
come from one text:

  stem=tiered|3x3|7x7:<chs>[:max]  act=relu|silu  attn=none|se[:<rd_ratio>]|eca
  down=conv1x1|none  features=<n>  bottle_in=0|1  linear_out=0|1  img=<n>
  sa=halo:<block>:<halo>:<heads>:<dim_head>:<qk_ratio> | bot:<heads>:<dim_head>:<qk_ratio>
  stages=<types>/<c>/<s>/<gs>/<br>[/<sa>],...   (types: one letter per block, B or S)
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.init import trunc_normal_

ACTS = {"relu": nn.ReLU, "silu": nn.SiLU}


def make_divisible(v, divisor=8, round_limit=0.9):
    """timm's channel rounding: nearest multiple of divisor, never below round_limit * v."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < round_limit * v else new_v


# ---- config strings (backbones/halonet_cfg.c) --------------------------------------------------

def _parse_sa(s):
    f = s.split(":")
    if f == ["none"]:
        return None
    if f[0] == "halo" and len(f) == 6:
        return dict(type="halo", block_size=int(f[1]), halo_size=int(f[2]), num_heads=int(f[3]),
                    dim_head=int(f[4]), qk_ratio=float(f[5]))
    if f[0] == "bot" and len(f) == 4:
        return dict(type="bot", num_heads=int(f[1]), dim_head=int(f[2]), qk_ratio=float(f[3]))
    raise ValueError(f"bad self-attention '{s}'")


def parse_config(text, base=None):
    """seer's HaloNet config string -> dict; keys given replace those of base."""
    cfg = dict(stem_type="tiered", stem_chs=0, stem_pool=False, act="relu", attn="none",
               se_rd_ratio=1 / 16, downsample=True, num_features=0, bottle_in=False,
               linear_out=False, img_size=None, sa=None, stages=[])
    cfg.update(base or {})
    for tok in text.split():
        key, v = tok.split("=", 1)
        if key == "stem":
            f = v.split(":")
            assert f[0] in ("tiered", "3x3", "7x7") and len(f) in (2, 3), v
            assert len(f) == 2 or f[2] == "max", v
            cfg.update(stem_type=f[0], stem_chs=int(f[1]), stem_pool=len(f) == 3)
        elif key == "act":
            assert v in ACTS, v
            cfg["act"] = v
        elif key == "attn":
            f = v.split(":")
            assert f[0] in ("none", "se", "eca"), v
            cfg["attn"] = f[0]
            if f[0] == "se":
                cfg["se_rd_ratio"] = float(f[1]) if len(f) > 1 else 1 / 16
        elif key == "down":
            assert v in ("conv1x1", "none"), v
            cfg["downsample"] = v == "conv1x1"
        elif key in ("bottle_in", "linear_out"):
            cfg[key] = v == "1"
        elif key in ("features", "img"):
            cfg["num_features" if key == "features" else "img_size"] = int(v)
        elif key == "sa":
            cfg["sa"] = _parse_sa(v)
        elif key == "stages":
            stages = []
            for st in v.split(","):
                f = st.split("/")
                assert len(f) in (5, 6) and set(f[0]) <= {"B", "S"}, st
                stages.append(dict(types=f[0], c=int(f[1]), s=int(f[2]), gs=int(f[3]),
                                   br=float(f[4]), sa=_parse_sa(f[5]) if len(f) == 6 else None,
                                   own_sa=len(f) == 6))
            cfg["stages"] = stages
        else:
            raise ValueError(f"unknown key '{key}'")
    return cfg


# ---- layers ---------------------------------------------------------------------------------

class ConvNormAct(nn.Module):
    """conv (no bias, padding ((s - 1) + (k - 1)) // 2 as timm) + BatchNorm + optional act."""

    def __init__(self, cin, cout, k, stride=1, groups=1, act=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, ((stride - 1) + (k - 1)) // 2, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act(inplace=True) if act else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class BatchNormAct2d(nn.BatchNorm2d):
    def __init__(self, ch, act):
        super().__init__(ch)
        self.act = act(inplace=True)

    def forward(self, x):
        return self.act(super().forward(x))


class SqueezeExcite(nn.Module):
    def __init__(self, ch, rd_ratio):
        super().__init__()
        rd = make_divisible(ch * rd_ratio, 8, round_limit=0.0)
        self.fc1 = nn.Conv2d(ch, rd, 1)
        self.fc2 = nn.Conv2d(rd, ch, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class EfficientChannelAttn(nn.Module):
    """ECA: a 1-D conv over the pooled channels, kernel from the channel count (odd, >= 3)."""

    def __init__(self, ch):
        super().__init__()
        t = int(abs(math.log(ch, 2) + 1) / 2)
        k = max(t if t % 2 else t + 1, 3)
        self.conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)

    def forward(self, x):
        s = self.conv(x.mean((2, 3)).unsqueeze(1))  # [B, 1, C]
        return x * torch.sigmoid(s).transpose(1, 2).unsqueeze(-1)


def rel_pos_logits(q, height_rel, width_rel, kh, kw):
    """Relative position logits: for a query at (y, x) of a qh x qw grid and a key at (i, j) of
    a kh x kw grid, q . height_rel[kh - 1 + i - y] + q . width_rel[kw - 1 + j - x].
    q: [N, qh, qw, d] -> [N, qh * qw, kh * kw]."""
    N, qh, qw, _ = q.shape
    dev = q.device
    iy = kh - 1 + torch.arange(kh, device=dev)[None, :] - torch.arange(qh, device=dev)[:, None]
    ix = kw - 1 + torch.arange(kw, device=dev)[None, :] - torch.arange(qw, device=dev)[:, None]
    lh = (q @ height_rel.t()).gather(-1, iy[None, :, None, :].expand(N, qh, qw, kh))
    lw = (q @ width_rel.t()).gather(-1, ix[None, None, :, :].expand(N, qh, qw, kw))
    return (lh[..., :, None] + lw[..., None, :]).reshape(N, qh * qw, kh * kw)


def attention(q, k, v, scale, bias):
    """softmax(scale * q k^T + bias) v; fused where torch has it (>= 2.1 takes scale)."""
    if hasattr(F, "scaled_dot_product_attention"):
        try:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=scale)
        except TypeError:  # torch 2.0: no scale argument
            pass
    return ((q @ k.transpose(-2, -1)) * scale + bias).softmax(-1) @ v


class HaloAttn(nn.Module):
    """Queries in non-overlapping block x block tiles (strided by the 1x1 conv when the layer
    downsamples and the block size allows it, else a 2x2 average pool of the output); keys and
    values in the tile plus a halo around it, cut from the zero-padded projection (padded keys
    are not masked). Each head's kv channels are [k | v]."""

    def __init__(self, dim, stride, block_size, halo_size, num_heads, dim_head, qk_ratio):
        super().__init__()
        assert dim % num_heads == 0 and stride in (1, 2)
        self.num_heads = num_heads
        self.dim_head_qk = dim_head or make_divisible(dim * qk_ratio, 8) // num_heads
        self.dim_head_v = dim // num_heads
        self.scale = self.dim_head_qk ** -0.5
        self.block_size, self.halo_size = block_size, halo_size
        self.win_size = block_size + 2 * halo_size
        use_pool = stride > 1 and block_size % stride != 0
        self.block_stride = stride if stride > 1 and not use_pool else 1
        self.block_size_ds = block_size // self.block_stride
        nqk, nv = num_heads * self.dim_head_qk, num_heads * self.dim_head_v
        self.q = nn.Conv2d(dim, nqk, 1, stride=self.block_stride, bias=False)
        self.kv = nn.Conv2d(dim, nqk + nv, 1, bias=False)
        rel = (2 * self.win_size - 1, self.dim_head_qk)
        self.pos_embed = nn.Module()  # keys pos_embed.{height,width}_rel, as timm
        self.pos_embed.height_rel = nn.Parameter(torch.zeros(rel))
        self.pos_embed.width_rel = nn.Parameter(torch.zeros(rel))
        self.pool = nn.AvgPool2d(2, 2) if use_pool else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self):
        std = self.q.weight.shape[1] ** -0.5
        trunc_normal_(self.q.weight, std=std)
        trunc_normal_(self.kv.weight, std=std)
        trunc_normal_(self.pos_embed.height_rel, std=self.scale)
        trunc_normal_(self.pos_embed.width_rel, std=self.scale)

    def forward(self, x):  # [B, C, H, W] -> [B, C, H / s, W / s]
        B, _, H, W = x.shape
        bs, bsd, win = self.block_size, self.block_size_ds, self.win_size
        nh, dqk, dv = self.num_heads, self.dim_head_qk, self.dim_head_v
        assert H % bs == 0 and W % bs == 0, f"halo attention: {H}x{W} map, block {bs}"
        nhb, nwb = H // bs, W // bs
        nb = nhb * nwb  # every (head, block) pair is one attention problem
        # q: [B, nh * dqk, H/s, W/s] -> [B, nh * blocks, bsd * bsd, dqk]
        q = self.q(x).reshape(B, nh, dqk, nhb, bsd, nwb, bsd)
        q = q.permute(0, 1, 3, 5, 4, 6, 2).reshape(B, nh * nb, bsd * bsd, dqk)
        # kv windows: [B, nh * (dqk + dv) * win * win, blocks] -> [B, nh * blocks, win^2, dqk + dv]
        kv = F.unfold(self.kv(x), win, padding=self.halo_size, stride=bs)
        kv = kv.reshape(B, nh, dqk + dv, win * win, nb).permute(0, 1, 4, 3, 2)
        k, v = kv.reshape(B, nh * nb, win * win, dqk + dv).split([dqk, dv], -1)
        bias = rel_pos_logits(q.reshape(-1, bsd, bsd, dqk), self.pos_embed.height_rel,
                              self.pos_embed.width_rel, win, win)
        o = attention(q, k, v, self.scale, bias.reshape(B, nh * nb, bsd * bsd, win * win))
        o = o.reshape(B, nh, nhb, nwb, bsd, bsd, dv).permute(0, 1, 6, 2, 4, 3, 5)
        return self.pool(o.reshape(B, nh * dv, nhb * bsd, nwb * bsd))


class BottleneckAttn(nn.Module):
    """BoTNet's global attention over a fixed feat_h x feat_w map with relative positions;
    stride 2 is a 2x2 average pool of the output."""

    def __init__(self, dim, stride, feat_size, num_heads, dim_head, qk_ratio):
        super().__init__()
        assert feat_size is not None and dim % num_heads == 0
        self.num_heads = num_heads
        self.dim_head_qk = dim_head or make_divisible(dim * qk_ratio, 8) // num_heads
        self.dim_head_v = dim // num_heads
        self.scale = self.dim_head_qk ** -0.5
        self.feat_h, self.feat_w = feat_size
        self.qkv = nn.Conv2d(dim, num_heads * (2 * self.dim_head_qk + self.dim_head_v), 1,
                             bias=False)
        self.pos_embed = nn.Module()
        self.pos_embed.height_rel = nn.Parameter(torch.zeros(2 * self.feat_h - 1, self.dim_head_qk))
        self.pos_embed.width_rel = nn.Parameter(torch.zeros(2 * self.feat_w - 1, self.dim_head_qk))
        self.pool = nn.AvgPool2d(2, 2) if stride == 2 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self):
        trunc_normal_(self.qkv.weight, std=self.qkv.weight.shape[1] ** -0.5)
        trunc_normal_(self.pos_embed.height_rel, std=self.scale)
        trunc_normal_(self.pos_embed.width_rel, std=self.scale)

    def forward(self, x):
        B, _, H, W = x.shape
        assert (H, W) == (self.feat_h, self.feat_w), f"bottleneck attention: {H}x{W} map"
        nh, dqk, dv = self.num_heads, self.dim_head_qk, self.dim_head_v
        q, k, v = self.qkv(x).split([nh * dqk, nh * dqk, nh * dv], 1)
        q = q.reshape(B, nh, dqk, H * W).transpose(-1, -2)  # [B, nh, HW, dqk]
        k = k.reshape(B, nh, dqk, H * W).transpose(-1, -2)
        v = v.reshape(B, nh, dv, H * W).transpose(-1, -2)
        bias = rel_pos_logits(q.reshape(B * nh, H, W, dqk), self.pos_embed.height_rel,
                              self.pos_embed.width_rel, H, W).reshape(B, nh, H * W, H * W)
        o = attention(q, k, v, self.scale, bias)  # [B, nh, HW, dv]
        return self.pool(o.transpose(-1, -2).reshape(B, nh * dv, H, W))


class Block(nn.Module):
    """ByobNet's BottleneckBlock (1x1 - kxk (grouped) - SE/ECA - 1x1) or SelfAttnBlock (1x1 -
    self-attention - BN+act - 1x1), a conv1x1 shortcut where the shape changes (none with
    down=none), and the activation after the sum (none with linear_out)."""

    def __init__(self, cfg, kind, cin, cout, stride, gs, br, sa, feat_size):
        super().__init__()
        act = ACTS[cfg["act"]]
        mid = make_divisible((cin if cfg["bottle_in"] else cout) * br)
        groups = mid // gs if gs else 1
        if cin != cout or stride != 1:
            self.shortcut = ConvNormAct(cin, cout, 1, stride) if cfg["downsample"] else None
        else:
            self.shortcut = nn.Identity()
        self.conv1_1x1 = ConvNormAct(cin, mid, 1, act=act)
        if kind == "S":
            if sa["type"] == "halo":
                self.self_attn = HaloAttn(mid, stride, sa["block_size"], sa["halo_size"],
                                          sa["num_heads"], sa["dim_head"], sa["qk_ratio"])
            else:
                self.self_attn = BottleneckAttn(mid, stride, feat_size, sa["num_heads"],
                                                sa["dim_head"], sa["qk_ratio"])
            self.post_attn = BatchNormAct2d(mid, act)
        else:
            self.conv2_kxk = ConvNormAct(mid, mid, 3, stride, groups, act=act)
            self.attn = {"none": nn.Identity, "se": lambda c: SqueezeExcite(c, cfg["se_rd_ratio"]),
                         "eca": EfficientChannelAttn}[cfg["attn"]](mid)
        self.conv3_1x1 = ConvNormAct(mid, cout, 1)
        self.act = nn.Identity() if cfg["linear_out"] else act(inplace=True)
        self.drop_path = 0.0

    def forward(self, x):
        y = self.conv1_1x1(x)
        if hasattr(self, "self_attn"):
            y = self.post_attn(self.self_attn(y))
        else:
            y = self.attn(self.conv2_kxk(y))
        y = self.conv3_1x1(y)
        if self.training and self.drop_path > 0:
            keep = torch.empty((y.shape[0], 1, 1, 1), dtype=y.dtype, device=y.device)
            y = y * keep.bernoulli_(1 - self.drop_path) / (1 - self.drop_path)
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return self.act(y)


class Stem(nn.Sequential):
    pass


class HaloNet(nn.Module):
    def __init__(self, cfg, num_classes=1000, img_size=None, drop_path_rate=0.0):
        super().__init__()
        if isinstance(cfg, str):
            cfg = parse_config(cfg)
        self.cfg = cfg
        act, sc = ACTS[cfg["act"]], cfg["stem_chs"]
        # stem: a tiered 3x3 stack (3c/8, c/2, c; strides 2, 1, and 2 unless pooled) or a
        # single 3x3 / 7x7 stride-2 conv (named stem itself when there is no pool)
        if cfg["stem_type"] == "tiered":
            self.stem = Stem()
            chs, strides = (3 * sc // 8, sc // 2, sc), (2, 1, 1 if cfg["stem_pool"] else 2)
            cin = 3
            for i, (c, s) in enumerate(zip(chs, strides)):
                self.stem.add_module(f"conv{i + 1}", ConvNormAct(cin, c, 3, s, act=act))
                cin = c
            reduction = 4
        else:
            k = 7 if cfg["stem_type"] == "7x7" else 3
            conv = ConvNormAct(3, sc, k, 2, act=act)
            if cfg["stem_pool"]:
                self.stem = Stem()
                self.stem.add_module("conv1", conv)
            else:
                self.stem = conv
            reduction = 2
        if cfg["stem_pool"]:
            self.stem.add_module("pool", nn.MaxPool2d(3, 2, 1))
            reduction *= 2

        img_size = img_size or cfg["img_size"]
        feat = (img_size // reduction,) * 2 if img_size else None
        n_blocks = sum(len(st["types"]) for st in cfg["stages"])
        stages, cin, b = [], sc, 0
        for st in cfg["stages"]:
            cout = make_divisible(st["c"])
            sa = st["sa"] if st["own_sa"] else cfg["sa"]
            blocks = []
            for j, kind in enumerate(st["types"]):
                stride = st["s"] if j == 0 else 1
                blk = Block(cfg, kind, cin, cout, stride, st["gs"], st["br"], sa, feat)
                blk.drop_path = drop_path_rate * b / max(n_blocks - 1, 1)
                blocks.append(blk)
                cin, b = cout, b + 1
                if j == 0 and stride > 1 and feat:
                    feat = (feat[0] // stride, feat[1] // stride)
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.final_conv = nn.Identity()
        if cfg["num_features"]:
            self.final_conv = ConvNormAct(cin, cfg["num_features"], 1, act=act)
            cin = cfg["num_features"]
        self.head = nn.Module()
        self.head.fc = nn.Linear(cin, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """timm's ByobNet init: convs normal(0, sqrt(2 / fan_out)), linears normal(0, 0.01),
        BN ones/zeros, the last BN of every residual branch zero (zero_init_last), attention
        projections trunc-normal(fan_in ** -0.5) and position tables trunc-normal(scale)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, Block) and m.shortcut is not None:
                nn.init.zeros_(m.conv3_1x1.bn.weight)
            if isinstance(m, (HaloAttn, BottleneckAttn)):
                m.reset_parameters()

    def forward_features(self, x):
        """[B, 3, H, W] -> the last feature map [B, C, h, w]."""
        return self.final_conv(self.stages(self.stem(x)))

    def forward(self, x):
        return self.head.fc(self.forward_features(x).mean((2, 3)))


# ---- CIFAR-10 ----------------------------------------------------------------------------------
# 32x32 -> 3x3/2 stem (48) -> 16x16: 2 bottlenecks + halo block (4x4 blocks with a 1-pixel
# halo: 16 blocks, 6x6 windows, 4 heads) -> 8x8: 2 bottlenecks (the first strided) + halo block
# (4 blocks) -> 4x4: strided bottleneck + halo block with 2x2 blocks, halo 1 (4 blocks, 4x4
# windows, 8 heads) -> pool -> fc. Bottleneck ratio 0.5, SiLU, conv1x1 shortcuts.
CIFAR_CONFIG = ("stem=3x3:48 act=silu attn=none down=conv1x1 features=0 bottle_in=0 "
                "linear_out=0 img=32 sa=halo:4:1:4:0:1 "
                "stages=BBS/128/1/0/0.5,BBS/256/2/0/0.5,BS/512/2/0/0.5/halo:2:1:8:0:1")
CIFAR_ARCH = "halonet_cifar"


def build_cifar(drop_path_rate=0.0):
    return HaloNet(CIFAR_CONFIG, num_classes=10, img_size=32, drop_path_rate=drop_path_rate)


def cifar_metadata():
    return {"seer.arch": CIFAR_ARCH, "seer.preprocess": "cifar", "seer.halonet_cfg": CIFAR_CONFIG}
