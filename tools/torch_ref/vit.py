"""The ViT family with pluggable attention, as seer's backbones/vit*.c runs it: one DeiT trunk
(timm's VisionTransformer: patch embedding, class (+ distillation) token, learned position
embedding, pre-norm blocks with LayerNorm eps 1e-6 and erf GELU, final norm, class head) whose
blocks attend

  dense        timm's Attention (DeiT);
  sparsifiner  Sparsifiner (Wei et al. 2023, lim142857/Sparsifiner src/models/sparsifiner.py):
               a low-rank connectivity predictor picks, per image, head and query, the keys the
               query may attend to; softmax over those keys only;
  agent        Agent Attention (Han et al. 2024, LeapLabTHU/Agent-Attention agent_deit.py) in the
               first `agent_layer` blocks, dense attention after.

The same trunk is LV-ViT (Jiang et al. 2021, "token labeling") as Sparsifiner's
src/models/sparsifiner_lvvit.py evaluates it (`sparsifiner_lvvit`): stem_dim > 0 puts a conv
stem before the patch projection (conv 7x7/2, two conv 3x3, each BatchNorm + ReLU, stem_dim wide;
then a (p/2) x (p/2) patch conv), skip_lam divides both residual branches, qkv_bias=False,
LayerNorm eps 1e-5 (nn.LayerNorm's default), and aux_head adds the token-labeling head: eval
logits = head(class token) + 0.5 * max over the patch tokens of aux_head(token).

State_dict keys are the references' (timm's for DeiT; blocks.{i}.attn.mask_predictor.{proj_c_q,
proj_c_k,proj_n,proj_back_n} for Sparsifiner; blocks.{i}.attn.{dwc,an_bias,...,ca_bias} for
Agent-DeiT), which are the names seer's loader reads. The configuration fields are seer's
vit_config fields; `model.seer_config()` writes them as metadata seer.config. Our own
definition, written from the papers and the references' structure.

Sparsifiner's connectivity (MaskPredictor; q, k are the block's per-head queries and keys):

    cheap  = num_heads^-0.5 proj_c_q(q) (proj_c_k(k)^T proj_n)      [B, H, L, K], K = L // reduce_n
    coef   = softmax(cheap[:, :, 1:])                                 class-token row dropped
    approx = top_coef_topk(coef) threshold(|proj_back_n^T|, t)      [B, H, L-1, L]
    mask   = the ceil(keep_rate * L) largest approx scores per row; the class query keeps all

computed in float32 (as seer does) whatever the autocast. Exact ties in either top-k keep the
lower index (a stable sort), as seer_topk does; PyTorch's topk leaves them in an
implementation-defined order. Training (see `aux_loss`): the forward pass attends through the
same mask as evaluation (masked dense attention), and the predictor is trained by the
reference's attention-reconstruction objective.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layers import DropPath  # noqa: E402  (also when imported as torch_ref.<module>)

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")
LN_EPS = 1e-6
STAGE_OF = (0, 1, 2, 2, 2, 3)  # agent_deit.py's stage_num: block i uses agent_num[STAGE_OF[i // 2]]


def attend(q, k, v, bias=None):
    """softmax(q k^T / sqrt(D) + bias) v; q [B, H, Lq, D], k [B, H, Lk, D], v [B, H, Lk, Dv],
    bias broadcastable to [B, H, Lq, Lk] (float) or None. SDPA where torch has it."""
    if HAS_SDPA:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=None if bias is None else bias.to(q.dtype))
    a = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if bias is not None:
        a = a + bias
    return a.softmax(-1) @ v


def topk_index(x, k):
    """Indices of the k largest entries of each row of x, exact ties to the lower index."""
    return torch.sort(x, dim=-1, descending=True, stable=True)[1][..., :k]


class PatchEmbed(nn.Module):
    """p x p patches, stride p, to embed_dim channels (key proj)."""

    def __init__(self, patch_size, embed_dim):
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, patch_size, patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, N, C]


class ConvStem(nn.Module):
    """LV-ViT's patch embedding (keys conv1..3, bn1..3, proj): conv 7x7 stride 2 and two conv
    3x3, bias-free, each BatchNorm + ReLU, `width` channels; then (p/2) x (p/2) patches, stride
    p/2, to embed_dim channels. Stride p overall, as the plain patch embedding."""

    def __init__(self, patch_size, embed_dim, width):
        super().__init__()
        if patch_size % 2:
            raise ValueError("the conv stem takes an even patch_size")
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.proj = nn.Conv2d(width, embed_dim, patch_size // 2, patch_size // 2)

    def forward(self, x):
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = F.relu(bn(conv(x)))
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, N, C]


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Dense multi-head softmax attention (timm Attention; qkv with bias unless qkv_bias is
    False, as LV-ViT). Keys qkv, proj."""

    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def heads(self, x):
        """x [B, L, C] -> q, k, v [B, H, L, D] and the qkv output [B, L, 3C]."""
        B, L, C = x.shape
        qkv = self.qkv(x)
        q, k, v = qkv.reshape(B, L, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v, qkv

    def merge(self, o):
        B, H, L, D = o.shape
        return self.proj(o.transpose(1, 2).reshape(B, L, H * D))

    def forward(self, x):
        q, k, v, _ = self.heads(x)
        return self.merge(attend(q, k, v))


class MaskPredictor(nn.Module):
    """Sparsifiner's connectivity predictor (module docstring). Keys proj_c_q, proj_c_k (Linear
    head_dim -> head_dim // reduce_c_factor, shared by the heads), proj_n, proj_back_n [L, K]."""

    def __init__(self, dim, num_heads, num_tokens, keep_rate, reduce_n_factor, reduce_c_factor,
                 basis_threshold, coef_topk):
        super().__init__()
        head_dim = dim // num_heads
        self.reduced_c = head_dim // reduce_c_factor
        self.reduced_n = num_tokens // reduce_n_factor
        if self.reduced_c < 1 or self.reduced_n < coef_topk or not 0 < keep_rate <= 1:
            raise ValueError(f"sparsifiner: {self.reduced_n} reduced tokens for top-{coef_topk} "
                             f"coefficients, {self.reduced_c} reduced channels, keep rate {keep_rate}")
        self.scale = num_heads ** -0.5  # the reference's scale (not head_dim's)
        self.attn_budget = math.ceil(keep_rate * num_tokens)
        self.basis_threshold = basis_threshold
        self.coef_topk = coef_topk
        self.proj_c_q = nn.Linear(head_dim, self.reduced_c)
        self.proj_c_k = nn.Linear(head_dim, self.reduced_c)
        self.proj_n = nn.Parameter(torch.zeros(num_tokens, self.reduced_n))
        self.proj_back_n = nn.Parameter(torch.zeros(num_tokens, self.reduced_n))

    def coefficients(self, q, k):
        """Basis coefficients [B, H, L-1, K] (softmax over the reduced tokens), float32."""
        q, k = q.float(), k.float()
        k_low = self.proj_c_k(k).transpose(-2, -1) @ self.proj_n  # [B, H, c, K]
        cheap = (self.proj_c_q(q) @ k_low) * self.scale  # [B, H, L, K]
        return cheap[:, :, 1:].softmax(-1)

    def connectivity(self, coef):
        """0/1 mask [B, H, L, L] (bool) of the kept keys; row 0 (class query) keeps all."""
        B, H, n, K = coef.shape
        top = topk_index(coef, self.coef_topk)
        coef = torch.zeros_like(coef).scatter_(-1, top, coef.gather(-1, top))
        basis = self.proj_back_n.t().abs()
        basis = torch.where(basis > self.basis_threshold, basis, torch.zeros_like(basis))  # nn.Threshold
        approx = coef @ basis  # [B, H, L-1, L]
        keep = topk_index(approx, self.attn_budget)
        mask = torch.zeros(approx.shape, dtype=torch.bool, device=approx.device).scatter_(-1, keep, True)
        return torch.cat([mask.new_ones(B, H, 1, n + 1), mask], 2)

    def reconstruction(self, coef):
        """The training-time approximation of the patch queries' attention [B, H, L-1, L]:
        all coefficients, the basis proj_back_n^T as is (signed, not thresholded: the
        reference's `training and USE_ATTN_RECON` branch; evaluation takes |.| and thresholds)."""
        return coef @ self.proj_back_n.t()


class SparsifinerAttention(Attention):
    """Attention over the predicted connectivity. Keys qkv, proj, mask_predictor.*.

    In training mode it also records the reconstruction error of the predictor (see
    VisionTransformer.aux_loss); `dense` makes the forward attend densely (the reference's
    first, 'attn_recon', phase), the mask is then still predicted and the error recorded."""

    def __init__(self, dim, num_heads, num_tokens, qkv_bias=True, **predictor):
        super().__init__(dim, num_heads, qkv_bias)
        self.mask_predictor = MaskPredictor(dim, num_heads, num_tokens, **predictor)
        self.dense = False
        self.recon_error = None  # sum of squared errors of the last training forward
        self.last_mask = None  # [B, H, L, L] bool, kept when keep_mask is set (checks)
        self.keep_mask = False

    def forward(self, x):
        q, k, v, _ = self.heads(x)
        # Predictor, scores and softmax in float32 whatever the autocast (the values of an f32
        # run): in bf16 the rounding of q k^T turns the softmax gradient of sharp rows into noise
        # that grows with the logits (gradient norm 185 against 3 on the collapsed GPU run of
        # sparsifiner_lvvit, 2026-12-03), which clipping then spreads over the whole model.
        with torch.autocast(device_type=x.device.type, enabled=False):
            q, k = q.float(), k.float()
            # The predictor sees q, k detached: only the reconstruction objective trains it, and
            # that objective does not reach the backbone (the reference trains the predictor
            # with the backbone frozen).
            coef = self.mask_predictor.coefficients(q.detach(), k.detach())
            with torch.no_grad():
                mask = self.mask_predictor.connectivity(coef)
            scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)  # [B, H, L, L]
            if self.training:
                target = scores.detach().softmax(-1)[:, :, 1:]  # the dense attention
                self.recon_error = (self.mask_predictor.reconstruction(coef) - target).pow(2).sum()
            if not (self.training and self.dense):
                scores = scores.masked_fill(~mask, float("-inf"))
            attn = scores.softmax(-1)
        if self.keep_mask:
            self.last_mask = mask
        return self.merge(attn.to(v.dtype) @ v)


class AgentAttention(Attention):
    """Agent attention (Agent-DeiT's AgentAttention). Keys qkv, proj, dwc (depthwise 3x3 on the
    patch values), an_bias/na_bias [H, A, 7, 7] (bilinearly resized to the W x W patch grid),
    ah/aw/ha/wa_bias (per row / column of the grid), ac/ca_bias (the class token).

        agents  = avgpool(patch queries, sqrt(A) x sqrt(A))                   [B, H, A, D]
        agent_v = softmax(agents k^T / sqrt(D) + bias1) v                     bias1 [H, A, L]
        out     = softmax(q agents^T / sqrt(D) + bias2) agent_v + [0; dwc(v_patches)]
    """

    def __init__(self, dim, num_heads, agent_num, window):
        super().__init__(dim, num_heads)
        pool = int(round(agent_num ** 0.5))
        if pool * pool != agent_num:
            raise ValueError(f"agent_num {agent_num} is not a square")
        self.agent_num, self.window, self.pool = agent_num, window, pool
        H, A, W = num_heads, agent_num, window
        self.dwc = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.an_bias = nn.Parameter(torch.zeros(H, A, 7, 7))
        self.na_bias = nn.Parameter(torch.zeros(H, A, 7, 7))
        self.ah_bias = nn.Parameter(torch.zeros(1, H, A, W, 1))
        self.aw_bias = nn.Parameter(torch.zeros(1, H, A, 1, W))
        self.ha_bias = nn.Parameter(torch.zeros(1, H, W, 1, A))
        self.wa_bias = nn.Parameter(torch.zeros(1, H, 1, W, A))
        self.ac_bias = nn.Parameter(torch.zeros(1, H, A, 1))
        self.ca_bias = nn.Parameter(torch.zeros(1, H, 1, A))

    def biases(self):
        """bias1 [1, H, A, L] (agents -> keys) and bias2 [1, H, L, A] (queries -> agents)."""
        H, A, W = self.num_heads, self.agent_num, self.window
        an = F.interpolate(self.an_bias, size=(W, W), mode="bilinear", align_corners=False)
        na = F.interpolate(self.na_bias, size=(W, W), mode="bilinear", align_corners=False)
        b1 = an.reshape(1, H, A, W * W) + (self.ah_bias + self.aw_bias).reshape(1, H, A, W * W)
        b2 = na.reshape(1, H, A, W * W).transpose(-2, -1) + (self.ha_bias + self.wa_bias).reshape(1, H, W * W, A)
        return torch.cat([self.ac_bias, b1], -1), torch.cat([self.ca_bias, b2], -2)

    def forward(self, x):
        B, L, C = x.shape
        H, W, A = self.num_heads, self.window, self.agent_num
        q, k, v, qkv = self.heads(x)
        grid = qkv[:, 1:, :C].transpose(1, 2).reshape(B, C, W, W)  # patch queries as an image
        agents = F.adaptive_avg_pool2d(grid, self.pool).reshape(B, H, C // H, A).transpose(-2, -1)
        bias1, bias2 = self.biases()
        agent_v = attend(agents, k, v, bias1)  # [B, H, A, D]
        o = attend(q, agents, agent_v, bias2)  # [B, H, L, D]
        o = o.transpose(1, 2).reshape(B, L, C)
        vp = v[:, :, 1:].transpose(-2, -1).reshape(B, C, W, W)  # patch values as an image
        d = self.dwc(vp).flatten(2).transpose(1, 2)  # [B, N, C]
        o = o + torch.cat([d.new_zeros(B, 1, C), d], 1)
        return self.proj(o)


class Block(nn.Module):
    """Pre-norm block; skip_lam (LV-ViT) divides both residual branches."""

    def __init__(self, dim, hidden, attn, drop_path=0.0, ln_eps=LN_EPS, skip_lam=1.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=ln_eps)
        self.attn = attn
        self.norm2 = nn.LayerNorm(dim, eps=ln_eps)
        self.mlp = Mlp(dim, hidden)
        self.drop_path = DropPath(drop_path)
        self.skip_lam = skip_lam

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x))) / self.skip_lam
        return x + self.drop_path(self.mlp(self.norm2(x))) / self.skip_lam


class VisionTransformer(nn.Module):
    """DeiT / Sparsifiner / Agent-DeiT; the arguments are seer's vit_config fields.

    init: 'timm' (DeiT), 'sparsifiner' or 'agent': each reference's random initialization
    (default: the one of `attn`). forward returns the logits (distilled: the mean of the class
    and distillation heads, as timm evaluates and as seer runs it; aux_head: in eval mode the
    class head plus 0.5 x the token-labeling head's max over the patch tokens, in training mode
    the class head alone, as sparsifiner_lvvit.py returns them). stem_dim, skip_lam, ln_eps,
    qkv_bias, aux_head: LV-ViT (module docstring); the defaults are DeiT's.
    """

    def __init__(self, attn="dense", img_size=224, patch_size=16, embed_dim=192, depth=12, num_heads=3,
                 num_classes=1000, mlp_ratio=4.0, distilled=False, attn_keep_rate=0.25, reduce_n_factor=6,
                 reduce_c_factor=2, basis_threshold=2e-2, coef_topk=8, agent_num=(49, 49, 49, 49),
                 agent_layer=None, drop_path_rate=0.0, init=None, stem_dim=0, skip_lam=1.0, ln_eps=LN_EPS,
                 qkv_bias=True, aux_head=False):
        super().__init__()
        if img_size % patch_size or embed_dim % num_heads:
            raise ValueError("img_size must be a multiple of patch_size, embed_dim of num_heads")
        agent_num = [int(a) for a in (agent_num if isinstance(agent_num, (list, tuple)) else [agent_num] * 4)]
        agent_layer = depth if agent_layer is None else agent_layer
        if attn == "agent" and (distilled or min(agent_layer, depth) > 12):
            raise ValueError("agent attention: one class token, and a stage table of 12 blocks")
        self.cfg = dict(attn=attn, img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
                        num_heads=num_heads, num_classes=num_classes, mlp_ratio=mlp_ratio,
                        distilled=int(bool(distilled)))
        if attn == "sparsifiner":
            self.cfg.update(attn_keep_rate=attn_keep_rate, reduce_n_factor=reduce_n_factor,
                            reduce_c_factor=reduce_c_factor, basis_threshold=basis_threshold, coef_topk=coef_topk)
        elif attn == "agent":
            self.cfg.update(agent_num="-".join(map(str, agent_num)), agent_layer=agent_layer)
        elif attn != "dense":
            raise ValueError(f"attn: dense, sparsifiner or agent, not {attn}")
        # LV-ViT's fields, written only where they differ from DeiT's (older files lack them)
        lv = dict(stem_dim=stem_dim, skip_lam=skip_lam, ln_eps=ln_eps, qkv_bias=int(bool(qkv_bias)),
                  aux_head=int(bool(aux_head)))
        self.cfg.update({k: v for k, v in lv.items()
                         if v != dict(stem_dim=0, skip_lam=1.0, ln_eps=LN_EPS, qkv_bias=1, aux_head=0)[k]})
        if aux_head and distilled:
            raise ValueError("the token-labeling head takes one class token")
        grid = img_size // patch_size
        n_prefix = 2 if distilled else 1
        L = n_prefix + grid * grid
        self.patch_embed = ConvStem(patch_size, embed_dim, stem_dim) if stem_dim else PatchEmbed(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if distilled else None
        self.pos_embed = nn.Parameter(torch.zeros(1, L, embed_dim))
        dpr = [x.item() for x in torch.linspace(0, drop_path_rate, depth)]
        hidden = int(embed_dim * mlp_ratio)

        def make_attn(i):
            if attn == "sparsifiner":
                if distilled:
                    raise ValueError("sparsifiner takes one class token")
                return SparsifinerAttention(
                    embed_dim, num_heads, L, qkv_bias=qkv_bias, keep_rate=attn_keep_rate, reduce_n_factor=reduce_n_factor,
                    reduce_c_factor=reduce_c_factor, basis_threshold=basis_threshold, coef_topk=coef_topk)
            if attn == "agent" and i < agent_layer:
                return AgentAttention(embed_dim, num_heads, agent_num[STAGE_OF[i // 2]], grid)
            return Attention(embed_dim, num_heads, qkv_bias)

        self.blocks = nn.ModuleList([Block(embed_dim, hidden, make_attn(i), dpr[i], ln_eps, skip_lam)
                                     for i in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=ln_eps)
        self.head = nn.Linear(embed_dim, num_classes)
        self.head_dist = nn.Linear(embed_dim, num_classes) if distilled else None
        self.aux_head = nn.Linear(embed_dim, num_classes) if aux_head else None
        self.reset_parameters(init or {"dense": "timm"}.get(attn, attn))

    def reset_parameters(self, init):
        """The reference's random initialization: Linear weights truncated normal (std 0.02,
        cut at +-2) with zero biases, LayerNorm 1 / 0, patch conv and dwc PyTorch's default;
        position embedding std 0.02; class token 1e-6 (timm) or 0.02 (Sparsifiner, Agent-DeiT);
        Sparsifiner's proj_n / proj_back_n and Agent-DeiT's biases std 0.02."""
        if init not in ("timm", "sparsifiner", "agent"):
            raise ValueError(f"init: timm, sparsifiner or agent, not {init}")
        tn = lambda p: nn.init.trunc_normal_(p, std=0.02)  # noqa: E731
        for m in self.modules():
            if isinstance(m, nn.Linear):
                tn(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, MaskPredictor):
                tn(m.proj_n)
                tn(m.proj_back_n)
            elif isinstance(m, AgentAttention):
                for name in ("an", "na", "ah", "aw", "ha", "wa", "ac", "ca"):
                    tn(getattr(m, name + "_bias"))
        tn(self.pos_embed)
        if init == "timm":
            nn.init.normal_(self.cls_token, std=1e-6)
        else:
            tn(self.cls_token)
        if self.dist_token is not None:
            tn(self.dist_token)

    def to(self, *args, memory_format=None, **kwargs):
        """As nn.Module.to, but memory_format (e.g. channels_last) goes to the 4-D parameters
        only: torch raises on Agent-DeiT's 5-D position biases (ah_bias, ...) otherwise."""
        super().to(*args, **kwargs)
        if memory_format is not None:
            for p in self.parameters():
                if p.dim() == 4:
                    p.data = p.data.contiguous(memory_format=memory_format)
        return self

    def forward_features(self, x):
        """Normalized tokens [B, L, C] after the last block."""
        self._last_batch = x.shape[0]
        for a in self.sparse_blocks():
            a.recon_error = None
        t = self.patch_embed(x)
        B = t.shape[0]
        prefix = [self.cls_token.expand(B, -1, -1)]
        if self.dist_token is not None:
            prefix.append(self.dist_token.expand(B, -1, -1))
        t = torch.cat(prefix + [t], 1) + self.pos_embed
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t)

    def forward(self, x):
        t = self.forward_features(x)
        y = self.head(t[:, 0])
        if self.head_dist is not None:
            y = (y + self.head_dist(t[:, 1])) / 2
        if self.aux_head is not None and not self.training:
            y = y + 0.5 * self.aux_head(t[:, 1:]).max(1)[0]
        return y

    # ---- Sparsifiner training -------------------------------------------------------------

    def sparse_blocks(self):
        return [b.attn for b in self.blocks if isinstance(b.attn, SparsifinerAttention)]

    def aux_loss(self, weight=0.01):
        """Sparsifiner's connectivity-predictor objective of the last training-mode forward.

        The reference trains the predictor by attention reconstruction (cfg.LOSS.USE_ATTN_RECON,
        losses.py): per block, the squared error, summed, between the predictor's approximation
        coef @ proj_back_n^T (all coefficients, basis neither |.|'d nor thresholded) and the dense attention
        of the patch queries, averaged over the blocks, weight ATTN_RECON.WEIGHT = 0.01. With no
        pretrained teacher here, the dense attention is the block's own unmasked softmax(q k^T)
        (the reference's attn_self_distill target), detached; the predictor sees q, k detached,
        so this loss trains only the predictors and the classification loss only the rest (the
        reference's two optimizers). Divided by the batch size (the reference sums over the
        batch), so the value does not grow with the batch. 0 for models without Sparsifiner."""
        errs = [a.recon_error for a in self.sparse_blocks() if a.recon_error is not None]
        if not errs:
            return self.pos_embed.new_zeros(())
        B = self._last_batch
        return weight * torch.stack(errs).mean() / B

    def set_dense_attention(self, dense):
        """Sparsifiner: attend densely in training (the reference's 'attn_recon' phase, while
        the predictors learn); evaluation always uses the predicted connectivity."""
        for a in self.sparse_blocks():
            a.dense = dense

    # ---- seer ------------------------------------------------------------------------------

    def seer_config(self):
        """Metadata seer.config: the configuration as comma-separated key=value."""
        return ",".join(f"{k}={v}" for k, v in self.cfg.items())

    def flops(self):
        """Multiply-adds of one forward pass (matmuls and convs; softmax etc. left out)."""
        c = self.cfg
        C, g, H = c["embed_dim"], c["img_size"] // c["patch_size"], c["num_heads"]
        N = g * g
        L = N + (2 if c["distilled"] else 1)
        hidden = int(C * c["mlp_ratio"])
        macs = N * 3 * c["patch_size"] ** 2 * C
        if c.get("stem_dim"):
            S, n2 = c["stem_dim"], (c["img_size"] // 2) ** 2
            macs = n2 * (3 * 49 * S + 2 * 9 * S * S) + N * (c["patch_size"] // 2) ** 2 * S * C
        for b in self.blocks:
            macs += L * (4 * C * C + 2 * C * hidden)
            a = b.attn
            if isinstance(a, AgentAttention):
                macs += 2 * 2 * L * a.agent_num * C + N * 9 * C
            else:
                macs += 2 * L * L * C
            if isinstance(a, SparsifinerAttention):
                mp = a.mask_predictor
                D = C // H
                macs += H * (2 * L * D * mp.reduced_c + mp.reduced_c * L * mp.reduced_n + L * mp.reduced_c * mp.reduced_n
                             + (L - 1) * mp.reduced_n * L)
        return macs + C * c["num_classes"] * (1 + N * bool(c.get("aux_head")))


# ---- LV-ViT ----------------------------------------------------------------------------------

# src/main.py builds `sparsifiner_lvvit` as LV-ViT-S (embed 384, 16 blocks of 6 heads, MLP
# ratio 3, p_emb '4_2': a 64-wide stem, skip_lam 2, no qkv bias, return_dense: the aux head)
# with sparsifiner_default_config.yaml's predictor (keep rate 0.25 in all 16 blocks, reduce
# factors 6 and 2, basis threshold 0.02, top-8 coefficients); nn.LayerNorm's eps 1e-5.
LVVIT_S = dict(attn="sparsifiner", img_size=224, patch_size=16, embed_dim=384, depth=16, num_heads=6,
               num_classes=1000, mlp_ratio=3.0, attn_keep_rate=0.25, reduce_n_factor=6, reduce_c_factor=2,
               basis_threshold=2e-2, coef_topk=8, stem_dim=64, skip_lam=2.0, ln_eps=1e-5, qkv_bias=False,
               aux_head=True)


def build_sparsifiner_lvvit(**overrides):
    """Sparsifiner on LV-ViT-S (`sparsifiner_lvvit`); overrides change LVVIT_S's fields."""
    return VisionTransformer(**{**LVVIT_S, **overrides})


# ---- the CIFAR-10 models ---------------------------------------------------------------------

# Shared trunk of both CIFAR ViTs: 4x4 patches on 32x32 (an 8x8 grid, 64 patches + class token),
# width 256, 6 blocks of 8 heads (head_dim 32), MLP ratio 2. ~3.2M parameters, ~0.22 G
# multiply-adds per image.
CIFAR_TRUNK = dict(img_size=32, patch_size=4, embed_dim=192, depth=7, num_heads=6, num_classes=10, mlp_ratio=2.0)


def build_cifar_sparsifiner(attn_keep_rate=0.5, drop_path_rate=0.1):
    """Sparsifiner on a small DeiT for CIFAR-10. The default config's mechanics scaled to 65
    tokens: reduced tokens 65 // 4 = 16 (the reference: 197 // 6 = 32), top-4 of them per row
    (top-8 of 32), reduced channels head_dim // 2 = 16, basis threshold 0.02; each patch query
    keeps ceil(0.5 * 65) = 33 of the 65 keys (the reference keeps 25% of 197; on 65 tokens a
    half still leaves a strict, image-dependent subset)."""
    return VisionTransformer(attn="sparsifiner", attn_keep_rate=attn_keep_rate, reduce_n_factor=4, reduce_c_factor=2,
                             basis_threshold=2e-2, coef_topk=4, drop_path_rate=drop_path_rate, **CIFAR_TRUNK)


def build_cifar_sparsifiner_lvvit(attn_keep_rate=0.5, drop_path_rate=0.1):
    """build_cifar_sparsifiner's trunk and predictor with LV-ViT's front (sparsifiner_lvvit):
    a conv stem 32 wide (7x7/2, 3x3, 3x3 with BatchNorm + ReLU: 32x32 -> 16x16) before 2x2
    patches (the same 8x8 grid), skip_lam 2, no qkv bias, LayerNorm eps 1e-5. No token-labeling
    head (its training needs dense labels). The convolutional front is what a ViT lacks on a
    dataset this small (the plain DeiT trunk overfits: 79.5%)."""
    return VisionTransformer(attn="sparsifiner", attn_keep_rate=attn_keep_rate, reduce_n_factor=4, reduce_c_factor=2,
                             basis_threshold=2e-2, coef_topk=4, drop_path_rate=drop_path_rate, stem_dim=32,
                             skip_lam=2.0, ln_eps=1e-5, qkv_bias=False, **CIFAR_TRUNK)


def build_cifar_agent(drop_path_rate=0.1):
    """Agent-DeiT for CIFAR-10: 16 agents (the 8x8 patch queries pooled to 4x4) in the first 4
    blocks (as agent_deit_base's agent_layer puts agent attention in the first blocks), dense
    attention in the last 3."""
    return VisionTransformer(attn="agent", agent_num=(16, 16, 16, 16), agent_layer=4, drop_path_rate=drop_path_rate,
                             **CIFAR_TRUNK)


def _metadata(model, arch):
    return {"seer.arch": arch, "seer.preprocess": "cifar", "seer.num_classes": str(model.cfg["num_classes"]),
            "seer.config": model.seer_config()}


def cifar_metadata_sparsifiner(model=None):
    return _metadata(model or build_cifar_sparsifiner(), "sparsifiner")


def cifar_metadata_sparsifiner_lvvit(model=None):
    # over the `sparsifiner` (DeiT-S) preset, whose defaults are DeiT's: the config names every
    # LV-ViT field that differs (stem_dim, skip_lam, ln_eps, qkv_bias)
    return _metadata(model or build_cifar_sparsifiner_lvvit(), "sparsifiner")


def cifar_metadata_agent(model=None):
    return _metadata(model or build_cifar_agent(), "agent_deit_tiny")
