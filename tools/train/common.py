"""What the training scripts share: the learning-rate schedule and atomic checkpoints."""
import math
import os

import torch


def lr_at(p, lr, warmup):
    """Linear warm-up over the first `warmup` of the run, then cosine to zero; p in [0, 1]."""
    if p < warmup:
        return lr * p / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (p - warmup) / (1 - warmup))))


def save_ckpt(path, state):
    """torch.save to a temporary file renamed over `path`: a kill never leaves half a file."""
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)
