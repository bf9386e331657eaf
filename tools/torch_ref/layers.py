"""Small layers several tools/torch_ref models share."""
import torch.nn as nn


class DropPath(nn.Module):
    """Stochastic depth per sample (the residual branch dropped, survivors scaled by 1/keep)."""

    def __init__(self, p=0.0):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep
