"""The short fit that makes a tiny random-weight fixture BF16-robust (make_halonet.py,
make_volo.py): random nets put the logits within BF16 rounding of each other and amplify
rounding with depth; a few seeded Adam steps that give each photo its own class, with the
batch-common part of the features penalized, keep PyTorch's BF16 autocast within ~1e-2 of the
F32 logits with wide top-1 margins (tools/golden/bf16_baseline.py measures it).
"""
import math

import torch


def batch_common(t):
    """Energy of the batch mean over the energy of what differs by image."""
    return t.mean(0).pow(2).sum() / (t - t.mean(0)).pow(2).mean(0).sum()


def fit(model, x, seed, n_classes, frozen, loss_of, steps=100, lr=3e-3):
    """Fits `model` (BatchNorm on batch statistics; parameters whose name contains one of
    `frozen` left as they are) so that loss_of(model, x, target) falls, target being a seeded
    random class per image of x; then measures the BatchNorm statistics of the fitted net on x
    and moves them off the exact batch values. Returns the model."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randperm(n_classes, generator=g)[:len(x)]
    params = [p for n, p in model.named_parameters() if not any(k in n for k in frozen)]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    model.eval()
    for m in bns:
        m.train()
        m.momentum = 1.0
    for _ in range(steps):
        opt.zero_grad()
        loss_of(model, x, target).backward()
        opt.step()
        sched.step()
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        model(x)  # momentum 1: the statistics of the fitted net on x
        for m in bns:
            m.eval()
            m.momentum = 0.1
            m.running_mean.add_(0.1 * m.running_var.sqrt() * torch.randn(m.num_features, generator=g))
            m.running_var.mul_(0.8 + 0.4 * torch.rand(m.num_features, generator=g))
    return model
