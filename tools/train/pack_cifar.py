#!/usr/bin/python3
"""Pack an ImageFolder split of CIFAR-10 JPEGs into one file: a JSON index + concatenated bytes.

    tools/train/pack_cifar.py ../shared/data/cifar10/train .data/cifar10-train.pack
    tools/train/pack_cifar.py ../shared/data/cifar10/test .data/cifar10-test.pack

A tar stores each 1 KB JPEG in 512-byte blocks plus a header (about double the bytes). Here
the bytes every file starts with are stored once: all 60,000 CIFAR-10 JPEGs share their first
623 bytes (the same quantization and Huffman tables), so the 50,000 training images take
16.5 MB instead of 46 MB, small enough to send with the repo to the GPU machine (64 MiB per
command). Layout:

    b"SEERPACK" | u64 little-endian index length | index (UTF-8 JSON) | prefix | rest of each file
    index = {"classes": [...], "files": [...], "labels": [...], "prefix": P,
             "offsets": [...], "sizes": [...]}

File i is the first P bytes after the index followed by `sizes[i]` bytes at `offsets[i]`
(relative to the end of the prefix). Classes are the sorted subfolder names (alphabetical =
CIFAR-10's class order). The file is written atomically.
"""
import argparse
import json
import os
import struct

MAGIC = b"SEERPACK"


def scan(root, per_class=None):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise SystemExit(f"{root}: no class folders")
    files, labels = [], []
    for i, c in enumerate(classes):
        names = sorted(n for n in os.listdir(os.path.join(root, c))
                       if n.lower().endswith((".jpg", ".jpeg", ".png")))
        if per_class:
            names = names[:per_class]
        files += [f"{c}/{n}" for n in names]
        labels += [i] * len(names)
    return classes, files, labels


def common_prefix(blobs):
    """Length of the longest prefix every blob starts with."""
    lo, hi = min(blobs, key=len), max(blobs, key=len)  # any common prefix of all ...
    n = 0
    for i in range(len(lo)):
        if any(b[i] != lo[i] for b in (lo, hi)):
            break
        n = i + 1
    while n and any(b[:n] != lo[:n] for b in blobs):  # ... is checked against every blob
        n -= 1
    return n


def write_pack(root, out, per_class=None):
    classes, files, labels = scan(root, per_class)
    blobs = []
    for f in files:
        with open(os.path.join(root, f), "rb") as fh:
            blobs.append(fh.read())
    prefix = common_prefix(blobs) if blobs else 0
    offsets, sizes, off = [], [], 0
    for b in blobs:
        offsets.append(off)
        sizes.append(len(b) - prefix)
        off += len(b) - prefix
    index = json.dumps({"classes": classes, "files": files, "labels": labels, "prefix": prefix,
                        "offsets": offsets, "sizes": sizes}, separators=(",", ":")).encode()
    tmp = f"{out}.tmp.{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(MAGIC + struct.pack("<Q", len(index)) + index)
        if blobs:
            fh.write(blobs[0][:prefix])
        for b in blobs:
            fh.write(b[prefix:])
    os.replace(tmp, out)
    return len(files), os.path.getsize(out)


def read_pack(path):
    """-> (index dict, list of JPEG byte strings)."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:8] != MAGIC:
        raise ValueError(f"{path}: not a seer pack (bad magic)")
    (n,) = struct.unpack("<Q", data[8:16])
    index = json.loads(data[16:16 + n])
    p = index.get("prefix", 0)
    head, base = data[16 + n: 16 + n + p], 16 + n + p
    if index["sizes"] and base + index["offsets"][-1] + index["sizes"][-1] > len(data):
        raise ValueError(f"{path}: truncated pack")
    blobs = [head + data[base + o: base + o + s] for o, s in zip(index["offsets"], index["sizes"])]
    return index, blobs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("out")
    ap.add_argument("--per-class", type=int, default=None, help="first N files of each class")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    n, size = write_pack(a.root, a.out, a.per_class)
    print(f"{a.out}: {n} images, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
