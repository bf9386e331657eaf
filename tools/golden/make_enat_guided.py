#!/usr/bin/env python3
"""Golden fixture for ENAT's guided sampler (generate/enat_sampler.c with a guide model,
autoguidance): tools/torch_ref/enat.py's generate() with guide=, which the official ENAT code
does not have. torch_ref's unguided sampler is shown equal to the reference's by
tools/torch_ref/check_enat.py; the guide adds w_g (cond - guide_cond) to the guided logits.

The generator is the tiny reference fixture (tests/golden/enat_tiny.weights.safetensors) and the
draws are that fixture's own (gen_labels, gen_uniform_k, gen_gumbel of enat_tiny.io), so only the
guide and the result are new:
- tests/golden/enat_tiny_guide.weights.safetensors: a smaller random ENAT over the same tokens
  and classes (hidden 16, 2 heads, 1 encoder + 1 decoder block; seed 5, F16 values, adaLN random
  as in make_enat.py);
- tests/golden/enat_tiny_guided.io.safetensors: guided_steps [8, 2, 16] (token grid after each
  step) and guided_ids [2, 16] for 8 steps at cfg 2.5, mask_temp 1.5, samp_temp 6 and guide
  weight GUIDE_W (metadata guide_w); also the smallest margin by which a draw or cut-off was
  decided (metadata min_margin: well above float rounding, or the fixture would be fragile);
- tests/golden/enat_tiny_guide32.weights.safetensors: a guide over 32 codes (hidden 8), which
  the sampler must refuse for the 64-code generator.

    /usr/bin/python3 tools/golden/make_enat_guided.py
"""
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
sys.path.insert(0, here)
import seer_st  # noqa: E402
from make_enat import randomize  # noqa: E402
from torch_ref import enat  # noqa: E402
from torch_ref.export import export_seer  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(here)), "tests", "golden")
GUIDE_W = 1.5
STEPS, CFG, MASK_TEMP, SAMP_TEMP = 8, 2.5, 1.5, 6.0


def main():
    model, _ = enat.from_seer_file(os.path.join(GOLDEN, "enat_tiny.weights.safetensors"))
    c = model.config
    guide = enat.ENAT(grid=c["grid"], hidden=16, heads=2, depth_enc=1, depth_dec=1,
                      codebook_size=c["codebook_size"], num_classes=c["num_classes"])
    randomize(guide, seed=5)
    model.eval()
    guide.eval()
    io, _ = seer_st.read_safetensors(os.path.join(GOLDEN, "enat_tiny.io.safetensors"))
    labels = torch.from_numpy(io["gen_labels"].astype(np.int64))
    u = torch.from_numpy(io["gen_uniform_k"].astype(np.float64) / 2.0 ** 53)
    g = torch.from_numpy(io["gen_gumbel"].astype(np.float32))
    steps = []

    class Recording(torch.nn.Module):  # the guide sees each step's input grid first
        def forward(self, ids, lab, prev=None):
            steps.append(ids.numpy().copy())
            return guide(ids, lab, prev)

    ties = torch.zeros(len(labels), dtype=torch.float64)
    ids = enat.generate(model, labels, steps=STEPS, cfg=CFG, mask_temp=MASK_TEMP, samp_temp=SAMP_TEMP,
                        noise=(u, g), ties=ties, guide=Recording(), guide_w=GUIDE_W).numpy()
    plain = enat.generate(model, labels, steps=STEPS, cfg=CFG, mask_temp=MASK_TEMP, samp_temp=SAMP_TEMP,
                          noise=(u, g)).numpy()
    if not np.array_equal(plain, io["gen_ids"]):
        raise SystemExit("torch_ref's unguided generation no longer matches enat_tiny.io's gen_ids")
    differ = int((ids != plain).sum())
    print(f"guided: {ids.tolist()}\n{differ} of {ids.size} tokens differ from the unguided run; "
          f"smallest decision margin {ties.min().item():.2e}")
    if differ == 0 or ties.min().item() < 1e-5:
        raise SystemExit("the guide changes nothing or a decision is too close: pick another seed")
    export_seer(guide, os.path.join(GOLDEN, "enat_tiny_guide.weights.safetensors"),
                enat.metadata(guide, arch="enat_tiny_guide", tokenizer=None), half=True)
    other = enat.ENAT(grid=c["grid"], hidden=8, heads=2, depth_enc=1, depth_dec=1, codebook_size=32,
                      num_classes=c["num_classes"])
    randomize(other, seed=6)
    export_seer(other, os.path.join(GOLDEN, "enat_tiny_guide32.weights.safetensors"),
                enat.metadata(other, arch="enat_tiny_guide32", tokenizer=None), half=True)
    seer_st.write_safetensors(
        os.path.join(GOLDEN, "enat_tiny_guided.io.safetensors"),
        {"guided_steps": np.stack(steps[1:] + [ids]).astype(np.int64), "guided_ids": ids.astype(np.int64)},
        {"guide_w": str(GUIDE_W), "steps": str(STEPS), "cfg": str(CFG), "mask_temp": str(MASK_TEMP),
         "samp_temp": str(SAMP_TEMP), "min_margin": f"{ties.min().item():.3e}", "torch": torch.__version__})


if __name__ == "__main__":
    main()
