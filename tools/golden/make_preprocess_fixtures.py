#!/usr/bin/python3
"""Golden fixtures for vision/preprocess.c: PIL resampling and the evaluation transforms.

Writes tests/golden/preprocess/:
  <input>.raw       8-bit HWC inputs (random noise, edge patterns, crops of ImageNet samples)
  resample.bin      concatenated PIL Image.resize outputs (u8 HWC)
  pipeline.bin      concatenated transform outputs (f32 HWC, little-endian)
  manifest.txt      one case per line:
      resample <input> <filter> <out_w> <out_h> <byte offset in resample.bin>
      pipeline <input> <description> <resized_w> <resized_h> <float offset in pipeline.bin>

Binary files start with one text line "<dtype> <w> <h> <c>\n" (dtype u8 or f32); the blobs
use "<dtype> <count> 1 1".

The transform reference is written from the documented behaviour of torchvision
(Resize on PIL = Image.resize, CenterCrop with zero padding, ToTensor, Normalize) and
guided-diffusion's center_crop_arr. When torchvision is importable, each torchvision-style
case is also run through torchvision itself and must match exactly.

Run: /usr/bin/python3 tools/golden/make_preprocess_fixtures.py
"""
import math
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "preprocess")
SAMPLES = "/work/shared/data/imagenet-samples"

R = getattr(Image, "Resampling", Image)
FILTERS = {
    "nearest": R.NEAREST,
    "box": R.BOX,
    "bilinear": R.BILINEAR,
    "hamming": R.HAMMING,
    "bicubic": R.BICUBIC,
    "lanczos": R.LANCZOS,
}


def write_raw(path, arr, dtype):
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    h, w, c = arr.shape
    with open(path, "wb") as f:
        f.write(f"{dtype} {w} {h} {c}\n".encode())
        f.write(arr.astype("<f4" if dtype == "f32" else np.uint8).tobytes())


def load_sample(name):
    # PIL's own JPEG decode, so the inputs are the pixels the references saw
    return np.asarray(Image.open(os.path.join(SAMPLES, name)).convert("RGB"))


def make_inputs():
    rng = np.random.default_rng(20240611)
    inputs = {}
    inputs["noise_23x17"] = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    inputs["noise_40x31"] = rng.integers(0, 256, (31, 40, 3), dtype=np.uint8)
    inputs["noise_32x32"] = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    inputs["col_1x9"] = rng.integers(0, 256, (9, 1, 3), dtype=np.uint8)
    inputs["row_13x1"] = rng.integers(0, 256, (1, 13, 3), dtype=np.uint8)
    # 0/255 blocks: the negative lobes of bicubic/lanczos overshoot, exercising the clipping.
    blocks = rng.integers(0, 2, (4, 5, 3), dtype=np.uint8) * 255
    inputs["edges_20x16"] = np.kron(blocks, np.ones((4, 4, 1), dtype=np.uint8))
    inputs["photo_97x61"] = load_sample("n01498041_stingray.JPEG")[150:211, 200:297]
    inputs["photo_120x90"] = load_sample("n02110185_Siberian_husky.JPEG")[100:190, 180:300]
    # a whole ImageNet photo (portrait)
    inputs["stork_136x150"] = load_sample("n02002724_black_stork.JPEG")
    return inputs


def resample_cases(inputs):
    """(input, filter, out_w, out_h) covering up/down scaling, odd sizes, 1-pixel sides."""
    rng = np.random.default_rng(7)
    cases = []
    fixed = {
        "noise_23x17": [(46, 34), (11, 8), (7, 5), (1, 1), (1, 17), (23, 1), (50, 9), (5, 40),
                        (24, 16), (22, 18), (69, 51), (23, 17), (3, 2)],
        "noise_40x31": [(13, 10), (20, 15), (39, 30), (41, 32), (3, 97), (40, 7), (16, 31)],
        "col_1x9": [(1, 4), (5, 9), (3, 20), (2, 2)],
        "row_13x1": [(6, 1), (13, 3), (40, 2), (1, 1)],
        "edges_20x16": [(30, 24), (9, 7), (20, 33), (53, 16)],
        "photo_97x61": [(32, 20), (48, 30), (24, 24), (61, 97), (112, 71)],
        "photo_120x90": [(60, 45), (59, 44), (37, 28), (17, 13)],
    }
    for name, sizes in fixed.items():
        for (ow, oh) in sizes:
            # Large outputs only for the filters the models use, to keep the fixtures small.
            filters = FILTERS if ow * oh <= 2500 else ("bicubic", "bilinear")
            for f in filters:
                cases.append((name, f, ow, oh))
    # Random sizes on the noise images (all filters).
    for name in ("noise_23x17", "noise_40x31"):
        h, w, _ = inputs[name].shape
        for _ in range(6):
            ow, oh = int(rng.integers(1, 3 * w // 2 + 4)), int(rng.integers(1, 3 * h // 2 + 4))
            for f in FILTERS:
                cases.append((name, f, ow, oh))
    return cases


def pil_resize(arr, ow, oh, f):
    return np.asarray(Image.fromarray(arr).resize((ow, oh), FILTERS[f]))


# ---- transforms, as the references compute them ------------------------------------------

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def parse(desc):
    """The subset of seer_preprocess_parse used by the cases below."""
    p = {"mode": "crop_pct", "resize": "bicubic", "size": 224, "crop_pct": 0.875,
         "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    for tok in desc.split(","):
        k, v = tok.split("=")
        if k in ("crop_pct",):
            p["mode"], p["crop_pct"] = "crop_pct", float(v)
        elif k in ("short", "squash"):
            p["mode"], p["resize_size"] = k, int(v)
        elif k == "mode":
            p["mode"] = v
        elif k == "size":
            p["size"] = int(v)
        elif k == "resize":
            p["resize"] = v
        elif k in ("mean", "std"):
            vals = [float(x) for x in v.split("/")]
            p[k] = tuple(vals * 3 if len(vals) == 1 else vals)
        else:
            raise ValueError(k)
    return p


def tv_short_side(w, h, n):
    # torchvision _compute_resized_output_size for an int size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = n, int(n * long / short)
    return (new_short, new_long) if w <= h else (new_long, new_short)


def tv_center_crop(img, size):
    # torchvision F.center_crop on a PIL image (pads with 0, then crops)
    w, h = img.size
    if size > w or size > h:
        l = (size - w) // 2 if size > w else 0
        t = (size - h) // 2 if size > h else 0
        r = (size - w + 1) // 2 if size > w else 0
        b = (size - h + 1) // 2 if size > h else 0
        padded = Image.new(img.mode, (w + l + r, h + t + b), 0)
        padded.paste(img, (l, t))
        img = padded
        w, h = img.size
        if size == w and size == h:
            return img
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def center_crop_arr(pil_image, image_size, final_filter):
    # guided-diffusion image_datasets.center_crop_arr
    while min(*pil_image.size) >= 2 * image_size:
        pil_image = pil_image.resize(tuple(x // 2 for x in pil_image.size), resample=R.BOX)
    scale = image_size / min(*pil_image.size)
    pil_image = pil_image.resize(tuple(round(x * scale) for x in pil_image.size),
                                 resample=FILTERS[final_filter])
    arr = np.array(pil_image)
    crop_y = (arr.shape[0] - image_size) // 2
    crop_x = (arr.shape[1] - image_size) // 2
    return arr[crop_y:crop_y + image_size, crop_x:crop_x + image_size], pil_image.size


def to_tensor_normalize(arr, mean, std):
    # ToTensor (x / 255 in float32) then Normalize ((x - mean) / std, float32 mean/std)
    x = arr.astype(np.float32) / np.float32(255)
    return (x - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)


def run_transform(arr, desc):
    p = parse(desc)
    img = Image.fromarray(arr)
    w, h = img.size
    mode, size = p["mode"], p["size"]
    if mode == "adm":
        out, resized = center_crop_arr(img, size, p["resize"])
        return to_tensor_normalize(out, p["mean"], p["std"]), resized
    if mode == "crop_pct":
        rw, rh = tv_short_side(w, h, math.floor(size / p["crop_pct"]))
    elif mode == "short":
        rw, rh = tv_short_side(w, h, p["resize_size"])
    elif mode == "squash":
        rw, rh = p["resize_size"], p["resize_size"]
    else:
        rw, rh = w, h
    if (rw, rh) != (w, h):
        img = img.resize((rw, rh), FILTERS[p["resize"]])
    img = tv_center_crop(img, size)
    return to_tensor_normalize(np.asarray(img), p["mean"], p["std"]), (rw, rh)


def torchvision_transform(arr, desc):
    """The same transform through torchvision itself (None if not applicable/available)."""
    try:
        import torch  # noqa: F401
        from torchvision import transforms as T
    except Exception:
        return None
    p = parse(desc)
    interp = {"nearest": T.InterpolationMode.NEAREST, "bilinear": T.InterpolationMode.BILINEAR,
              "bicubic": T.InterpolationMode.BICUBIC, "box": T.InterpolationMode.BOX,
              "hamming": T.InterpolationMode.HAMMING,
              "lanczos": T.InterpolationMode.LANCZOS}[p["resize"]]
    tfl = []
    if p["mode"] == "crop_pct":
        tfl.append(T.Resize(math.floor(p["size"] / p["crop_pct"]), interpolation=interp))
    elif p["mode"] == "short":
        tfl.append(T.Resize(p["resize_size"], interpolation=interp))
    elif p["mode"] == "squash":
        tfl.append(T.Resize((p["resize_size"], p["resize_size"]), interpolation=interp))
    elif p["mode"] != "none":
        return None
    tfl += [T.CenterCrop(p["size"]), T.ToTensor(), T.Normalize(p["mean"], p["std"])]
    x = T.Compose(tfl)(Image.fromarray(arr))
    return x.permute(1, 2, 0).numpy()  # CHW -> HWC


PIPELINES = [
    # timm, crop_pct 0.875 / 0.96 / 1.15 (crop larger than the image: zero padding)
    ("photo_97x61", "resize=bicubic,crop_pct=0.875,size=32"),
    ("photo_120x90", "resize=bicubic,crop_pct=0.96,size=40"),
    ("stork_136x150", "resize=bicubic,crop_pct=0.96,size=45"),
    ("photo_97x61", "resize=bicubic,crop_pct=1.15,size=36"),
    ("noise_40x31", "resize=bicubic,crop_pct=1.15,size=37"),
    ("noise_32x32", "resize=bicubic,crop_pct=1.15,size=40"),
    ("stork_136x150", "resize=bilinear,crop_pct=0.9,size=40"),
    ("noise_23x17", "resize=nearest,crop_pct=0.875,size=21"),
    # VAN: crop 0.9, mean = std = 0.5
    ("photo_120x90", "resize=bicubic,crop_pct=0.9,size=40,mean=0.5/0.5/0.5,std=0.5/0.5/0.5"),
    # BiFormer-style short side, Agent-style squash (scaled down)
    ("photo_97x61", "resize=bicubic,short=37,size=32"),
    ("stork_136x150", "resize=bicubic,short=41,size=34"),
    ("photo_120x90", "resize=bicubic,squash=37,size=32"),
    # CIFAR: no resize (same size, and a crop/pad mix)
    ("noise_32x32", "resize=bicubic,mode=none,size=32"),
    ("noise_23x17", "resize=bicubic,mode=none,size=20"),
    # ADM center_crop_arr: no halving, one halving, two halvings; [0, 1] output
    ("photo_97x61", "resize=bicubic,mode=adm,size=40,mean=0,std=1"),
    ("photo_120x90", "resize=bicubic,mode=adm,size=24,mean=0,std=1"),
    ("photo_97x61", "resize=bicubic,mode=adm,size=8,mean=0,std=1"),
    ("stork_136x150", "resize=bicubic,mode=adm,size=32,mean=0,std=1"),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    inputs = make_inputs()
    for name, arr in inputs.items():
        write_raw(os.path.join(OUT, name + ".raw"), arr, "u8")

    lines = []
    blob = []
    offset = 0
    for name, f, ow, oh in resample_cases(inputs):
        out = pil_resize(inputs[name], ow, oh, f)
        assert out.shape == (oh, ow, 3)
        lines.append(f"resample {name} {f} {ow} {oh} {offset}")
        blob.append(out.tobytes())
        offset += out.size
    data = b"".join(blob)
    with open(os.path.join(OUT, "resample.bin"), "wb") as fh:
        fh.write(f"u8 {len(data)} 1 1\n".encode())
        fh.write(data)

    fblob = []
    foff = 0
    tv_checked = 0
    for name, desc in PIPELINES:
        out, (rw, rh) = run_transform(inputs[name], desc)
        tv = torchvision_transform(inputs[name], desc)
        if tv is not None:
            assert tv.shape == out.shape, (desc, tv.shape, out.shape)
            diff = float(np.abs(tv - out).max())
            assert diff == 0.0, f"{name} {desc}: torchvision differs by {diff}"
            tv_checked += 1
        lines.append(f"pipeline {name} {desc} {rw} {rh} {foff}")
        fblob.append(out.astype("<f4").tobytes())
        foff += out.size
    fdata = b"".join(fblob)
    with open(os.path.join(OUT, "pipeline.bin"), "wb") as fh:
        fh.write(f"f32 {foff} 1 1\n".encode())
        fh.write(fdata)

    with open(os.path.join(OUT, "manifest.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    n_res = sum(1 for l in lines if l.startswith("resample"))
    print(f"{n_res} resample cases, {len(PIPELINES)} pipelines "
          f"({tv_checked} matched torchvision exactly), {total} bytes in {OUT}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
