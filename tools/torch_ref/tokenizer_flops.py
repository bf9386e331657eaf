#!/usr/bin/env python3
"""FLOPs per image of a seer VQ tokenizer file (tools/torch_ref/vqgan.py): encode (with the
codebook search) and decode, counting convolutions and linear layers through forward hooks,
2 FLOPs per multiply-add (norms and activations not counted, as FlopCounterMode does not).
Works with Debian's torch 1.13, which has no FlopCounterMode.

    /usr/bin/python3 tools/torch_ref/tokenizer_flops.py assets/models/vq_cifar.safetensors
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_ref import vqgan  # noqa: E402


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    tok, meta = vqgan.from_seer_file(sys.argv[1], "cpu")
    total = [0]

    def count(m, _inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
            total[0] += 2 * out.numel() * k
        else:
            total[0] += 2 * out.numel() * m.in_features

    for m in tok.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(count)
    side = int(meta.get("vqgan.resolution", 32))
    with torch.no_grad():
        _, ids = tok.encode(torch.rand(1, 3, side, side))
        n_codes, dim = tok.config["n_embed"], tok.config["embed_dim"]
        encode = total[0] + 2 * ids.numel() * n_codes * dim  # |z|^2 + |e|^2 - 2 z.e
        total[0] = 0
        tok.decode(ids.reshape(1, *ids.shape[-2:]))
        decode = total[0]
    params = sum(p.numel() for p in tok.parameters())
    print(f"{sys.argv[1]}: {params / 1e6:.2f}M params; {side}x{side} image: encode {encode / 1e9:.3f} GFLOP, "
          f"decode {decode / 1e9:.3f} GFLOP")


if __name__ == "__main__":
    main()
