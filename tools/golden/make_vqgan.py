#!/usr/bin/env python3
"""Golden fixture for the VQGAN tokenizer (tokenizer/vqgan.c), from ENAT's reference code
(taming/models/vqgan.py, loaded alone with importlib as REFERENCES.md says).

A tiny config that still takes every code path: ch 32, ch_mult (1, 2) (one average-pool
downsampling, one nearest-2x upsampling, a channel change in both the encoder and the decoder,
so the nin_shortcut path runs), one res block per level, z_channels 16, a 64-entry codebook.
Random weights (seed 0) rounded to float16 values, so storing them as F16 loses nothing; GroupNorm
affines randomized; the codebook is drawn from the encoder's own latents (plus noise) so the
argmin is decided by real distances; the decoder's output is shifted and scaled to land mostly
in [0, 1] with some clamping. Inputs: 4 real photos prepared with ENAT's center_crop_arr to
32 x 32, in [0, 1].

Writes tests/golden/vqgan_tiny.weights.safetensors and tests/golden/vqgan_tiny.io.safetensors:
input [4, 32, 32, 3], latents [4, 16, 16, 16] (encoder output), ids [4, 16, 16] (I64),
decoded_raw [4, 32, 32, 3] (decoder output of `ids`) and decoded (clamped to [0, 1]), NHWC.

    /work/ref/venv/bin/python tools/golden/make_vqgan.py [--ref /work/ref/ENAT] [--data ../shared/data]
"""
import argparse
import importlib.util
import os
import sys
import tempfile
import types

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402

TINY = dict(double_z=False, z_channels=16, resolution=32, in_channels=3, out_ch=3, ch=32,
            ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[], dropout=0.0)
TINY_CODEBOOK = (64, 16)  # n_embed, embed_dim
F16_JAX = dict(double_z=False, z_channels=256, resolution=256, in_channels=3, out_ch=3, ch=128,
               ch_mult=[1, 1, 2, 2, 4], num_res_blocks=2, attn_resolutions=[16], dropout=0.0)
IMAGES = ["n01498041_stingray.JPEG", "n02110185_Siberian_husky.JPEG",
          "n03345487_fire_engine.JPEG", "n07248320_book_jacket.JPEG"]


def stand_in_modules():
    """Stand-ins for the reference's logging/progress imports (loguru, tqdm), unused here."""
    d = tempfile.mkdtemp(prefix="enat_stand_ins_")
    with open(os.path.join(d, "loguru.py"), "w") as f:
        f.write("import logging\nlogger = logging.getLogger('loguru')\n")
    with open(os.path.join(d, "tqdm.py"), "w") as f:
        f.write("def tqdm(x=None, *a, **k):\n    return x\n")
    sys.path.append(d)


def load_reference(ref):
    """(vqgan module, ENAT utils module) from the ENAT checkout."""
    if ref not in sys.path:
        sys.path.insert(0, ref)
    stand_in_modules()
    spec = importlib.util.spec_from_file_location("enat_vqgan", os.path.join(ref, "taming/models/vqgan.py"))
    vqgan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vqgan)
    spec = importlib.util.spec_from_file_location("enat_utils", os.path.join(ref, "utils.py"))
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    return vqgan, utils


def build(vqgan, ddconfig, n_embed, embed_dim):
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # the Decoder prints the z shape
        m = vqgan.VQModel(ddconfig=ddconfig, lossconfig=None, n_embed=n_embed, embed_dim=embed_dim)
    return m.eval()


def randomize(model, images_nchw, out_scale, seed):
    """Random GroupNorm affines, codebook from the encoder's latents, decoder output near [0, 1];
    every float parameter rounded to a float16 value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
        for p in model.parameters():
            p.copy_(p.half().float())
        z = model.encoder(images_nchw).permute(0, 2, 3, 1).reshape(-1, model.quantize.e_dim)
        pick = torch.randperm(z.shape[0], generator=g)[: model.quantize.n_e]
        cb = z[pick] + 0.3 * z.std() * torch.randn(pick.shape[0], z.shape[1], generator=g)
        model.quantize.embedding.weight.copy_(cb.half().float())
        conv_out = model.decoder.conv_out
        conv_out.weight.mul_(out_scale)
        conv_out.bias.fill_(0.5)
        for p in model.parameters():
            p.copy_(p.half().float())


def state_dict_np(model, half):
    sd = {}
    for k, v in model.state_dict().items():
        a = v.detach().numpy()
        sd[k] = a.astype(np.float16) if half and a.dtype == np.float32 else a
    return sd


def config_metadata(ddconfig, n_embed, embed_dim, arch="vqgan"):
    return {"seer.arch": arch, "vqgan.ch": ddconfig["ch"],
            "vqgan.ch_mult": ",".join(str(m) for m in ddconfig["ch_mult"]),
            "vqgan.num_res_blocks": ddconfig["num_res_blocks"], "vqgan.z_channels": ddconfig["z_channels"],
            "vqgan.in_channels": ddconfig["in_channels"], "vqgan.out_ch": ddconfig["out_ch"],
            "vqgan.n_embed": n_embed, "vqgan.embed_dim": embed_dim}


def load_images(utils, folder, names, size):
    """NHWC float32 in [0, 1], prepared as ENAT prepares its data (center_crop_arr, / 255)."""
    out = []
    for n in names:
        with Image.open(os.path.join(folder, n)) as im:
            arr = utils.center_crop_arr(im.convert("RGB"), size)
        out.append(arr.astype(np.float32) / 255.0)
    return np.stack(out)


def run_reference(model, x_nhwc, ids=None):
    """(latents NHWC, ids [B, h, w], decoder output NHWC of `ids` (default: the encoded ids))."""
    with torch.no_grad():
        x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous()
        z = model.encoder(x)
        _, _, (_, _, idx) = model.quantize(z)
        enc_ids = idx.reshape(z.shape[0], z.shape[2], z.shape[3])
        use = enc_ids if ids is None else torch.from_numpy(ids)
        shape = [*use.shape, model.embed_dim]
        dec = model.decode_code(use)
    return (z.permute(0, 2, 3, 1).numpy(), enc_ids.numpy().astype(np.int64),
            dec.permute(0, 2, 3, 1).numpy(), shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="/work/ref/ENAT")
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden"))
    args = ap.parse_args()

    vqgan, utils = load_reference(args.ref)
    torch.manual_seed(0)
    model = build(vqgan, TINY, *TINY_CODEBOOK)
    x = load_images(utils, os.path.join(args.data, "imagenet-samples"), IMAGES, TINY["resolution"])
    randomize(model, torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), out_scale=0.8, seed=1)

    latents, ids, dec, _ = run_reference(model, x)
    decoded = np.clip(dec, 0.0, 1.0)
    print("ids used:", len(np.unique(ids)), "of", TINY_CODEBOOK[0],
          "| decoded mean %.3f std %.3f, clamped %.1f%%" % (dec.mean(), dec.std(),
                                                          100 * np.mean((dec < 0) | (dec > 1))))
    # second-best distance gap: the argmin must not be a near-tie
    zf = torch.from_numpy(latents.reshape(-1, TINY_CODEBOOK[1]))
    d = torch.cdist(zf, model.quantize.embedding.weight.detach()) ** 2
    top2 = d.topk(2, largest=False).values
    print("smallest relative gap between best and second-best code: %.2e"
          % ((top2[:, 1] - top2[:, 0]) / top2[:, 0]).min().item())

    os.makedirs(args.out, exist_ok=True)
    seer_st.write_safetensors(os.path.join(args.out, "vqgan_tiny.weights.safetensors"),
                              state_dict_np(model, half=True), config_metadata(TINY, *TINY_CODEBOOK))
    seer_st.write_safetensors(os.path.join(args.out, "vqgan_tiny.io.safetensors"),
                              {"input": x, "latents": latents, "ids": ids, "decoded_raw": dec,
                               "decoded": decoded},
                              {"files": ",".join(IMAGES), "torch": torch.__version__})


if __name__ == "__main__":
    main()
