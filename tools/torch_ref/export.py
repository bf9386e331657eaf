"""Write a PyTorch model's weights as a seer .safetensors file.

Every tools/torch_ref model keeps the reference's state_dict key names, which are the names
seer's loaders read, so export is: state_dict -> numpy -> safetensors + seer metadata.
BatchNorm's num_batches_tracked counters are dropped (seer never reads them).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from seer_st import write_safetensors  # noqa: E402


def state_to_numpy(state_dict, half=False, keep_f32=()):
    """state_dict -> {name: numpy}; half=True stores float tensors as F16 except names that
    contain one of keep_f32 (e.g. BatchNorm running_var, which F16 may not hold well)."""
    out = {}
    for name, t in state_dict.items():
        if name.endswith("num_batches_tracked"):
            continue
        a = t.detach().float().cpu().numpy()
        if half and not any(k in name for k in keep_f32):
            if np.abs(a).max(initial=0) < 65000:  # else this tensor stays F32
                a = a.astype(np.float16)
        out[name] = a
    return out


def export_seer(model, path, metadata, half=False, keep_f32=("running_var", "running_mean")):
    """model: an nn.Module or a state_dict. metadata: dict of seer metadata (seer.arch, ...).
    Written atomically (write_safetensors renames a finished temporary file)."""
    sd = model.state_dict() if hasattr(model, "state_dict") else model
    write_safetensors(path, state_to_numpy(sd, half, keep_f32), metadata)
