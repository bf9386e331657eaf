"""CIFAR-10 for training on the GPU: decode a pack once, keep it on the device, augment there.

    images, labels = load_cifar(".data/cifar10-train.pack", "cuda")   # uint8 [N,32,32,3]
    for x, y in batches(images, labels, 512, gen, augment="crop_flip"):
        ...   # x: float [B,3,32,32] in [0,1] (normalize with normalize(x, MEAN, STD))

JPEGs are decoded with PIL (libjpeg-turbo, as seer decodes them), so the model trains on the
same pixels seer feeds it at evaluation. Augmentation (random crop with 4-pixel zero padding +
horizontal flip, optional cutout) runs on the GPU as gathers: no CPU data loader.
"""
import io
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pack_cifar import read_pack  # noqa: E402

# The "cifar" preprocessing preset of seer (the pretrained CIFAR ResNets' normalization).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _decode(blob):
    from PIL import Image
    im = Image.open(io.BytesIO(blob)).convert("RGB")
    a = np.asarray(im, dtype=np.uint8)
    if a.shape != (32, 32, 3):
        raise ValueError(f"expected a 32x32 image, got {a.shape}")
    return a


def decode_pack(path, workers=None):
    """-> (uint8 numpy [N,32,32,3], int64 numpy [N], class names)."""
    index, blobs = read_pack(path)
    workers = workers or min(16, os.cpu_count() or 1)
    if workers > 1 and len(blobs) > 2000:
        with ProcessPoolExecutor(workers) as ex:
            arrs = list(ex.map(_decode, blobs, chunksize=512))
    else:
        arrs = [_decode(b) for b in blobs]
    return np.stack(arrs), np.asarray(index["labels"], dtype=np.int64), index["classes"]


def load_cifar(pack_path, device):
    """Decode once -> (images uint8 [N,32,32,3] on device, labels int64 [N] on device).
    The decoded arrays are cached beside the pack (PACK.decoded.npz), so jobs started
    together on one machine decode it once (cache_decoded() makes it up front)."""
    imgs, labels = cache_decoded(pack_path)
    return torch.from_numpy(imgs).to(device), torch.from_numpy(labels).to(device)


def cache_decoded(pack_path):
    cache = pack_path + ".decoded.npz"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(pack_path):
        with np.load(cache) as z:
            return z["images"], z["labels"]
    imgs, labels, _ = decode_pack(pack_path)
    tmp = f"{cache}.tmp.{os.getpid()}.npz"
    np.savez(tmp, images=imgs, labels=labels)
    os.replace(tmp, cache)
    return imgs, labels


def normalize(x, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def crop_flip(x, gen, pad=4):
    """Random crop of x [B,C,H,W] from its zero-padded copy + random horizontal flip."""
    B, C, H, W = x.shape
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (B,), device=x.device, generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (B,), device=x.device, generator=gen)
    rows = (oy[:, None] + torch.arange(H, device=x.device)[None]).view(B, 1, H, 1)
    xp = xp.gather(2, rows.expand(B, C, H, W + 2 * pad))
    cols = (ox[:, None] + torch.arange(W, device=x.device)[None]).view(B, 1, 1, W)
    flip = torch.rand(B, device=x.device, generator=gen) < 0.5
    cols = torch.where(flip.view(B, 1, 1, 1), ox.view(B, 1, 1, 1) + W - 1 - (cols - ox.view(B, 1, 1, 1)), cols)
    return xp.gather(3, cols.expand(B, C, H, W))


def cutout(x, gen, size=8):
    """Zero one size x size square per image (centre uniform over the image, clipped)."""
    B, _, H, W = x.shape
    cy = torch.randint(0, H, (B, 1, 1), device=x.device, generator=gen)
    cx = torch.randint(0, W, (B, 1, 1), device=x.device, generator=gen)
    yy = torch.arange(H, device=x.device).view(1, H, 1)
    xx = torch.arange(W, device=x.device).view(1, 1, W)
    hole = ((yy - cy).abs() <= size // 2 - 1 + (size % 2)) & ((xx - cx).abs() <= size // 2 - 1 + (size % 2))
    return x * (~hole).unsqueeze(1).to(x.dtype)


def batches(images, labels, batch_size, gen, augment="crop_flip", drop_last=True):
    """One epoch of shuffled batches: x float [B,3,32,32] in [0,1], y int64 [B].
    augment: "none", "crop_flip" or "crop_flip_cutout"."""
    n = images.shape[0]
    perm = torch.randperm(n, device=images.device, generator=gen)
    end = n - n % batch_size if drop_last else n
    for i in range(0, end, batch_size):
        idx = perm[i:i + batch_size]
        x = images[idx].permute(0, 3, 1, 2).float().div_(255)
        if augment != "none":
            x = crop_flip(x, gen)
        if augment == "crop_flip_cutout":
            x = cutout(x, gen)
        yield x, labels[idx]
