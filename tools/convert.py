#!/usr/bin/python3
"""Convert an official checkpoint into a seer .safetensors file.

    tools/convert.py INPUT OUTPUT --arch NAME [--preprocess STR] [--meta KEY=VALUE ...]

INPUT: a PyTorch checkpoint (.pth, .pth.tar, .th, .bin; zip or legacy format) or a
.safetensors file (timm's). Wrappers ('state_dict', 'model', 'model_ema', 'nnet_ema', ...) and
a 'module.' prefix are removed; BatchNorm 'num_batches_tracked' counters are dropped. Tensor
names stay the official state_dict keys. Metadata: seer.arch = NAME, plus seer.preprocess and
any --meta pairs. Runs without torch (numpy only); torch is not imported.

FID Inception weights: pytorch-fid's pt_inception-2015-12-05-6726825d.pth is a plain state dict
in torchvision's Inception3 layout without AuxLogits (Conv2d_1a_3x3.conv.weight, ...,
fc.weight [1008, 2048]); it converts as is:

    tools/convert.py pt_inception-2015-12-05-6726825d.pth inception_v3_fid.safetensors \
        --arch inception_v3_fid

torchvision's own ImageNet Inception-v3 (1000 classes, AuxLogits) is a different network and
is refused for that arch.

VOLO: timm's volo_*.sail_in1k model.safetensors and the official sail-sg/volo releases
(d1_224_84.2.pth.tar, ...: a state dict, or one under 'state_dict' with 'module.' prefixes, as
timm's checkpoint saver writes it) share timm's keys and convert as is; the preset is checked
against the checkpoint's shapes:

    tools/convert.py d1_224_84.2.pth.tar volo_d1_224.safetensors --arch volo_d1_224

BiFormer: the official rayleizhu/BiFormer releases (biformer_{tiny,small,base}_in1k.pth, as
torch.hub names them; the model under 'model', next to optimizer/scheduler state) convert as
is; the preset is checked against the checkpoint (stem width, depth of stage 3):

    tools/convert.py biformer_tiny_in1k.pth biformer_tiny.safetensors --arch biformer_tiny

VAN: the official VAN-Classification releases (van_tiny_754.pth.tar, van_small_811.pth.tar,
van_base_828.pth.tar, van_large_839.pth.tar for van_b0..van_b3, from the Hugging Face
Visual-Attention-Network/VAN-*-original repos or the README's links; the model under
'state_dict') convert as is; the preset is checked against the checkpoint (widths, depths).
Hugging Face transformers' VAN checkpoints (Visual-Attention-Network/van-base, ...: keys
van.encoder.*) are another layout and are refused:

    tools/convert.py van_tiny_754.pth.tar van_b0.safetensors --arch van_b0

ENAT (generate/enat.h; ENAT's nnet_ema.pth, a plain state dict) and the MAGE/ENAT VQGAN tokenizer
(tokenizer/vqgan.h; vqgan_jax_strongaug.ckpt, a Lightning {'state_dict': ...}):

    tools/convert.py nnet_ema.pth enat_l.safetensors --arch enat_l           # or enat_l_512
    tools/convert.py vqgan_jax_strongaug.ckpt vq-f16-jax.safetensors --arch vq-f16-jax

Tensors these models never read are dropped (VQGAN: loss/discriminator, if present; ENAT: the
unused prev_embedder). Other configs go in --meta (vqgan.ch, vqgan.ch_mult=1,1,2,2,4, ...,
enat.depth_enc, enat.num_heads, ...: see the headers).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seer_st  # noqa: E402

WRAPPER_KEYS = ("state_dict", "model", "model_ema", "state_dict_ema", "nnet_ema", "nnet",
                "module", "net", "params")


def find_state_dict(obj, key=None):
    """The dict of name -> array inside a loaded checkpoint."""
    if key:
        if not isinstance(obj, dict) or key not in obj:
            raise SystemExit(f"convert: the checkpoint has no '{key}' entry "
                             f"(top-level keys: {', '.join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__})")
        return obj[key]
    if isinstance(obj, dict) and obj and all(isinstance(v, np.ndarray) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for k in WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], dict):
                return find_state_dict(obj[k])
    raise SystemExit("convert: no state dict found (expected a dict of tensors, or one under "
                     f"{', '.join(WRAPPER_KEYS)})")


def clean(sd):
    names = list(sd)
    if names and all(n.startswith("module.") for n in names):
        sd = {n[len("module."):]: v for n, v in sd.items()}
    return {n: v for n, v in sd.items() if not n.endswith("num_batches_tracked")}


# VOLO presets by (outlooker blocks, stage-1 width); the resolution is the pos_embed grid * 16.
VOLO_DEPTHS = {(4, 192): "d1", (6, 256): "d2", (8, 256): "d3", (8, 384): "d4", (12, 384): "d5"}
VOLO_PRESETS = ("volo_d1_224", "volo_d1_384", "volo_d2_224", "volo_d2_384", "volo_d3_224",
                "volo_d3_448", "volo_d4_224", "volo_d4_448", "volo_d5_224", "volo_d5_448",
                "volo_d5_512")


def volo_preset_of(sd):
    """The timm preset a VOLO state dict (timm or official sail-sg/volo keys) belongs to, or None."""
    if "pos_embed" not in sd or "network.0.0.norm1.weight" not in sd:
        return None
    blocks = len({n.split(".")[2] for n in sd if n.startswith("network.0.")})
    d = VOLO_DEPTHS.get((blocks, sd["network.0.0.norm1.weight"].shape[0]))
    name = f"volo_{d}_{sd['pos_embed'].shape[1] * 16}" if d else None
    return name if name in VOLO_PRESETS else None


def biformer_preset_of(sd):
    """biformer_tiny/_small/_base from the stem width and the number of stage-3 blocks."""
    stem = sd.get("downsample_layers.0.3.weight")
    if stem is None:
        return None
    depth3 = len({n.split(".")[2] for n in sd if n.startswith("stages.2.")})
    return {(64, 8): "biformer_tiny", (64, 18): "biformer_small",
            (96, 18): "biformer_base"}.get((int(stem.shape[0]), depth3))


def drop_unused(sd, arch):
    """Tensors of an official ENAT / VQGAN checkpoint that the seer model never reads."""
    if arch.startswith("vq"):
        prefixes = ("loss.", "discriminator.", "perceptual_loss.")  # training-only
    elif arch.startswith("enat"):
        prefixes = ("prev_embedder.",)  # trained, unused by the forward pass
    else:
        return sd
    dropped = sorted({n.split(".")[0] for n in sd if n.startswith(prefixes)})
    if dropped:
        print(f"convert: dropped the unused {', '.join(dropped)} tensors")
    return {n: v for n, v in sd.items() if not n.startswith(prefixes)}


# models/van.py of VAN-Classification: (embed_dims, depths) of each preset.
VAN_PRESETS = {
    "van_b0": ((32, 64, 160, 256), (3, 3, 5, 2)), "van_b1": ((64, 128, 320, 512), (2, 2, 4, 2)),
    "van_b2": ((64, 128, 320, 512), (3, 3, 12, 3)), "van_b3": ((64, 128, 320, 512), (3, 5, 27, 3)),
    "van_b4": ((64, 128, 320, 512), (3, 6, 40, 3)), "van_b5": ((96, 192, 480, 768), (3, 3, 24, 3)),
    "van_b6": ((96, 192, 384, 768), (6, 6, 90, 6)),
}


def van_preset_of(sd):
    """The VAN preset whose widths and depths match an official state dict, or None."""
    try:
        dims = tuple(int(sd[f"patch_embed{i}.proj.weight"].shape[0]) for i in range(1, 5))
    except KeyError:
        return None
    depths = tuple(len({n.split(".")[1] for n in sd if n.startswith(f"block{i}.")})
                   for i in range(1, 5))
    return next((k for k, v in VAN_PRESETS.items() if v == (dims, depths)), None)


def check_layout(sd, arch):
    """Refuse key layouts that belong to another implementation of the same model."""
    if arch.startswith("biformer_"):
        found = biformer_preset_of(sd)
        if found and found != arch:
            raise SystemExit(f"convert: this BiFormer checkpoint is {found} (stem width and "
                             f"stage-3 depth), not {arch}: use --arch {found}")
    if any(n.startswith("van.encoder.") for n in sd):
        raise SystemExit("convert: this is the Hugging Face transformers VAN layout "
                         "(van.encoder.*, e.g. Visual-Attention-Network/van-base); seer loads the "
                         "official VAN-Classification checkpoints (keys patch_embed1.*, block1.0.*, "
                         "norm1.*, head.*: van_tiny_754.pth.tar, ... from the "
                         "Visual-Attention-Network/VAN-*-original repos)")
    if arch in VAN_PRESETS:
        found = van_preset_of(sd)
        if found and found != arch:
            raise SystemExit(f"convert: this VAN checkpoint is {found} (stage widths and depths), "
                             f"not {arch}: use --arch {found}")
    if arch in VOLO_PRESETS:
        # Official file names (d1_224_84.2.pth.tar) are easy to pair with the wrong preset.
        found = volo_preset_of(sd)
        if found and found != arch:
            raise SystemExit(f"convert: this VOLO checkpoint is {found} (outlooker depth, width and "
                             f"pos_embed grid), not {arch}: use --arch {found}")
    if arch == "inception_v3_fid":
        fc = sd.get("fc.weight")
        if any(n.startswith("AuxLogits.") for n in sd) or (fc is not None and fc.shape[0] != 1008):
            raise SystemExit("convert: this is torchvision's ImageNet Inception-v3 (AuxLogits, 1000 "
                             "classes); FID needs pytorch-fid's pt_inception-2015-12-05-6726825d.pth "
                             "(TensorFlow's FID graph, fc of 1008 classes)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--arch", required=True, help="seer registry name, e.g. resnet56, volo_d1_224")
    ap.add_argument("--preprocess", help="preset string stored as seer.preprocess")
    ap.add_argument("--key", help="take the state dict from this top-level entry")
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--half", action="store_true", help="store float tensors as F16")
    args = ap.parse_args(argv)

    if args.input.endswith(".safetensors"):
        sd, meta = seer_st.read_safetensors(args.input)
    else:
        sd, meta = find_state_dict(seer_st.load_torch_checkpoint(args.input), args.key), {}
    sd = drop_unused(clean(sd), args.arch)
    check_layout(sd, args.arch)
    out = {}
    for n, v in sd.items():
        v = np.asarray(v)
        if v.dtype == np.float64 or (args.half and v.dtype == np.float32):
            v = v.astype(np.float16 if args.half else np.float32)
        if v.dtype == np.bool_:
            v = v.astype(np.uint8)
        out[n] = v
    meta = dict(meta)
    meta["seer.arch"] = args.arch
    meta["seer.source"] = os.path.basename(args.input)
    if args.preprocess:
        meta["seer.preprocess"] = args.preprocess
    for kv in args.meta:
        if "=" not in kv:
            raise SystemExit(f"convert: --meta wants KEY=VALUE, got '{kv}'")
        k, v = kv.split("=", 1)
        meta[k] = v
    seer_st.write_safetensors(args.output, out, meta)
    total = sum(v.size for v in out.values())
    print(f"convert: wrote {args.output}: {len(out)} tensors, {total:,} values, arch {args.arch}")


if __name__ == "__main__":
    main()
