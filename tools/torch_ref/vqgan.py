"""The VQGAN tokenizer of MaskGIT / MAGE / ENAT (taming's Encoder, VectorQuantizer2 and Decoder
with the settings of ENAT's vq-f16-jax.yaml), as seer's tokenizer/vqgan.c runs it.

Our own definition, written from the architecture's description; the state_dict keys are the
reference's (encoder.*, decoder.*, quantize.embedding.weight), which are the names seer loads.
What decides parity (see tokenizer/vqgan.h):
- ResnetBlock: GroupNorm(32, eps 1e-6) -> swish -> conv3x3 (no bias) -> GroupNorm -> swish ->
  conv3x3 (no bias). When the width changes, the block returns nin_shortcut(h) + h: the 1x1
  shortcut reads the residual branch h (out -> out channels) and the block input is dropped.
- Encoder: conv_in (no bias), num_res_blocks blocks per level with a parameter-free 2x2 average
  pool after every level but the last, two middle blocks, GroupNorm, swish, 1x1 conv_out.
- Quantizer: no quant_conv; the id of a latent is the argmin over the codebook of
  |z|^2 + |e|^2 - 2 z.e (so embed_dim == z_channels).
- Decoder: conv_in 3x3 (bias), two middle blocks, per level from the coarsest num_res_blocks
  blocks, then nearest-2x + conv3x3 on every level but the finest; GroupNorm, swish, conv_out.
  Images are in [0, 1]; the decoded image is clamped to [0, 1] (ENAT's sampler does).
No attention blocks (the reference's Encoder/Decoder ignore attn_resolutions).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

GN_GROUPS = 32
GN_EPS = 1e-6


def norm(c):
    return nn.GroupNorm(GN_GROUPS, c, eps=GN_EPS)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm2 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        # the reference's shortcut when the width changes maps the residual branch (out -> out)
        self.nin_shortcut = nn.Conv2d(cout, cout, 1, bias=False) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        if self.nin_shortcut is not None:
            return self.nin_shortcut(h) + h
        return x + h


class Level(nn.Module):
    """One resolution: `block` (ModuleList) and, in the decoder, `upsample.conv`."""

    def __init__(self, cin, cout, n_blocks, upsample=False):
        super().__init__()
        self.block = nn.ModuleList(ResnetBlock(cin if i == 0 else cout, cout) for i in range(n_blocks))
        if upsample:
            self.upsample = nn.Module()
            self.upsample.conv = nn.Conv2d(cout, cout, 3, padding=1)


class Mid(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block_1 = ResnetBlock(c, c)
        self.block_2 = ResnetBlock(c, c)

    def forward(self, x):
        return self.block_2(self.block_1(x))


class Encoder(nn.Module):
    def __init__(self, ch, ch_mult, num_res_blocks, z_channels, in_channels=3):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1, bias=False)
        widths = [ch * m for m in ch_mult]
        self.down = nn.ModuleList(
            Level(ch if i == 0 else widths[i - 1], widths[i], num_res_blocks) for i in range(len(widths)))
        self.mid = Mid(widths[-1])
        self.norm_out = norm(widths[-1])
        self.conv_out = nn.Conv2d(widths[-1], z_channels, 1)

    def forward(self, x):  # [B, 3, H, W] in [0, 1] -> [B, z, H / f, W / f]
        h = self.conv_in(x)
        for i, level in enumerate(self.down):
            for blk in level.block:
                h = blk(h)
            if i != len(self.down) - 1:
                h = F.avg_pool2d(h, 2)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, ch, ch_mult, num_res_blocks, z_channels, out_ch=3):
        super().__init__()
        widths = [ch * m for m in ch_mult]
        self.conv_in = nn.Conv2d(z_channels, widths[-1], 3, padding=1)
        self.mid = Mid(widths[-1])
        # up[i] works at level i; it runs coarsest first and takes the width of level i + 1
        self.up = nn.ModuleList(
            Level(widths[i + 1] if i + 1 < len(widths) else widths[-1], widths[i], num_res_blocks,
                  upsample=i != 0) for i in range(len(widths)))
        self.norm_out = norm(widths[0])
        self.conv_out = nn.Conv2d(widths[0], out_ch, 3, padding=1)

    def forward(self, z):  # [B, z, h, w] -> [B, out_ch, h f, w f] (not clamped)
        h = self.mid(self.conv_in(z))
        for i in reversed(range(len(self.up))):
            level = self.up[i]
            for blk in level.block:
                h = blk(h)
            if i != 0:
                h = level.upsample.conv(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """Nearest-codebook-entry quantizer: only `embedding` (n_embed x embed_dim) is a parameter.
    Training-side codebook updates (EMA, restarts) live in tools/train/train_tokenizer.py."""

    def __init__(self, n_embed, embed_dim):
        super().__init__()
        self.embedding = nn.Embedding(n_embed, embed_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_embed, 1.0 / n_embed)  # the reference's init

    def ids(self, z):
        """z [B, e, h, w] -> ids [B, h, w]: argmin of |z|^2 + |e|^2 - 2 z.e (float32)."""
        with torch.autocast(z.device.type, enabled=False):  # distances in float32 under AMP too
            zf = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).float()
            e = self.embedding.weight.float()
            d = zf.pow(2).sum(1, keepdim=True) + e.pow(2).sum(1) - 2 * zf @ e.t()
            return d.argmin(1).reshape(z.shape[0], z.shape[2], z.shape[3])

    def lookup(self, ids):
        """ids [B, h, w] -> [B, e, h, w]"""
        return self.embedding(ids).permute(0, 3, 1, 2).contiguous()

    def forward(self, z):
        """(z_q with straight-through gradients, codebook term |sg(z) - e|^2, commitment term
        |z - sg(e)|^2, ids). The reference (legacy=True) trains with commitment + 0.25 codebook;
        with an EMA codebook only the commitment term is a loss."""
        ids = self.ids(z.detach())
        e = self.lookup(ids).to(z.dtype)
        codebook = F.mse_loss(e, z.detach())
        commit = F.mse_loss(z, e.detach())
        zq = z + (e - z).detach()
        return zq, codebook, commit, ids


class VQModel(nn.Module):
    def __init__(self, ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2, z_channels=256,
                 n_embed=1024, embed_dim=256, in_channels=3, out_ch=3):
        super().__init__()
        if embed_dim != z_channels:
            raise ValueError("embed_dim must equal z_channels (no quant_conv)")
        for m in ch_mult:
            if (ch * m) % GN_GROUPS:
                raise ValueError(f"width {ch * m} is not a multiple of {GN_GROUPS} GroupNorm groups")
        self.config = dict(ch=ch, ch_mult=tuple(ch_mult), num_res_blocks=num_res_blocks,
                           z_channels=z_channels, n_embed=n_embed, embed_dim=embed_dim,
                           in_channels=in_channels, out_ch=out_ch)
        self.encoder = Encoder(ch, ch_mult, num_res_blocks, z_channels, in_channels)
        self.decoder = Decoder(ch, ch_mult, num_res_blocks, z_channels, out_ch)
        self.quantize = VectorQuantizer(n_embed, embed_dim)

    @property
    def factor(self):
        return 2 ** (len(self.config["ch_mult"]) - 1)

    def encode(self, x):
        """x [B, 3, H, W] in [0, 1] -> (latents [B, z, h, w], ids [B, h, w])"""
        z = self.encoder(x)
        return z, self.quantize.ids(z)

    def decode_code(self, ids):
        """ids [B, h, w] -> decoder output [B, 3, H, W], not clamped (the reference's decode_code)"""
        return self.decoder(self.quantize.lookup(ids))

    def decode(self, ids):
        """ids -> images clamped to [0, 1] (what seer tokenize decode / seer generate write)"""
        return self.decode_code(ids).clamp(0, 1)

    def forward(self, x):
        """Training pass: (reconstruction [B, 3, H, W] (not clamped), codebook term, commitment
        term, ids [B, h, w], latents z [B, z, h, w])."""
        z = self.encoder(x)
        zq, codebook, commit, ids = self.quantize(z)
        return self.decoder(zq), codebook, commit, ids, z


def metadata(model, arch="vqgan", resolution=None):
    """seer metadata of a VQModel (seer.arch must start with "vq"); resolution: the training
    image side, the input size `seer tokenize` uses by default (256 when absent)."""
    c = model.config
    md = {"seer.arch": arch, "vqgan.ch": c["ch"], "vqgan.ch_mult": ",".join(str(m) for m in c["ch_mult"]),
          "vqgan.num_res_blocks": c["num_res_blocks"], "vqgan.z_channels": c["z_channels"],
          "vqgan.n_embed": c["n_embed"], "vqgan.embed_dim": c["embed_dim"],
          "vqgan.in_channels": c["in_channels"], "vqgan.out_ch": c["out_ch"]}
    if resolution:
        md["vqgan.resolution"] = resolution
    return md


# The CIFAR-10 tokenizer: 32 x 32 -> 8 x 8 tokens (f = 4) from a 512-entry codebook of 32-dim
# codes (a low-dimensional lookup: seer's quantizer is argmin-L2 in the encoder's output space,
# so the code dimension is z_channels). Widths 64, 64, 128 keep decoding cheap on a CPU
# (about 0.7 GFLOP per image); see tools/train/train_tokenizer.py.
CIFAR = dict(ch=64, ch_mult=(1, 1, 2), num_res_blocks=1, z_channels=32, n_embed=512, embed_dim=32)
CIFAR_ARCH = "vq_cifar"  # the file name seer generate looks for (enat.tokenizer)


def build_cifar(**overrides):
    return VQModel(**{**CIFAR, **overrides})


def cifar_metadata(model=None):
    return metadata(model if model is not None else build_cifar(), arch=CIFAR_ARCH, resolution=32)


def from_seer_file(path, device="cpu"):
    """A VQModel with the weights and config of a seer tokenizer file (F16 or F32)."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import seer_st
    sd, md = seer_st.read_safetensors(path)
    model = VQModel(ch=int(md["vqgan.ch"]), ch_mult=tuple(int(m) for m in md["vqgan.ch_mult"].split(",")),
                    num_res_blocks=int(md["vqgan.num_res_blocks"]), z_channels=int(md["vqgan.z_channels"]),
                    n_embed=int(md["vqgan.n_embed"]), embed_dim=int(md["vqgan.embed_dim"]),
                    in_channels=int(md.get("vqgan.in_channels", 3)), out_ch=int(md.get("vqgan.out_ch", 3)))
    model.load_state_dict({k: torch.from_numpy(v.astype("float32")) for k, v in sd.items()})
    return model.to(device).eval(), md
