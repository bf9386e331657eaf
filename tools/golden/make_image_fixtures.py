#!/usr/bin/python3
"""Reference fixtures for tests/test_image.c: what PIL decodes, as checksums.

The C decoder (core/image*.c) must give the bytes of PIL's `Image.open(p).convert('RGB')`.
This script records, in tests/golden/image/:

  data_checksums.txt  one line per real file of the shared data dir (read in place, never
                      copied): `<path relative to the data dir> <w> <h> <crc32> <adler32>` of
                      PIL's RGB bytes (HWC, rows top to bottom), or `<path> error` for files PIL
                      cannot identify as an image (the .mat files of pets-seg, text files).
  fixtures.txt        the same for tiny files generated here, one per format variant:
                      `<file> <exif> <w> <h> <crc32> <adler32> <ref>`; exif = 1 means decoded
                      with ImageOps.exif_transpose first (seer's apply_exif_orientation);
                      ref = pil, or highbyte where seer deliberately differs from PIL (16-bit
                      gray PNG, which PIL 9.4 clips to 255 instead of keeping the high byte).
  the generated files (a few KB in all).

Run with /usr/bin/python3 (Pillow 9.4 on the system libjpeg-turbo, the library seer links):
    /usr/bin/python3 tools/golden/make_image_fixtures.py [--data ../shared/data]
"""
import argparse
import glob
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "image")


def checksum(rgb: np.ndarray) -> str:
    b = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return f"{zlib.crc32(b) & 0xFFFFFFFF:08x} {zlib.adler32(b) & 0xFFFFFFFF:08x}"


def pil_rgb(path: str, exif: bool = False) -> np.ndarray:
    im = Image.open(path)
    if exif:
        im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert("RGB"))


# ---- real data ---------------------------------------------------------------------------


def data_files(data: str) -> list:
    rel = []
    rel += sorted(glob.glob("imagenet-samples/*", root_dir=data))
    rel += sorted(glob.glob("photos/*", root_dir=data))
    rel += sorted(glob.glob("pets-seg/images/*", root_dir=data))
    # A sample of the bigger sets: the first files of a few folders.
    rel += sorted(glob.glob("imagenet-val-1300/val/*/*.JPEG", root_dir=data))[:24]
    for cls in sorted(os.listdir(os.path.join(data, "cifar10", "test")))[:10]:
        rel += sorted(glob.glob(f"cifar10/test/{cls}/*.jpg", root_dir=data))[:3]
    return rel


def write_data_checksums(data: str) -> None:
    lines = []
    for r in data_files(data):
        try:
            a = pil_rgb(os.path.join(data, r))
        except Exception:  # PIL.UnidentifiedImageError and friends: must be an error in C too
            lines.append(f"{r} error")
            continue
        lines.append(f"{r} {a.shape[1]} {a.shape[0]} {checksum(a)}")
    with open(os.path.join(OUT, "data_checksums.txt"), "w") as f:
        f.write("# made by tools/golden/make_image_fixtures.py: PIL convert('RGB') of files under "
                "SEER_DATA\n")
        f.write("\n".join(lines) + "\n")
    print(f"data_checksums.txt: {len(lines)} files")


# ---- generated variants ------------------------------------------------------------------


def png_bytes(w, h, color_type, depth, raw_rows, extra=b"", interlace=0):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw_rows)) + chunk(b"IEND", b""))


def rows_filter0(a: np.ndarray) -> bytes:
    """Big-endian sample rows, each prefixed with filter type 0."""
    return b"".join(b"\x00" + a[y].tobytes() for y in range(a.shape[0]))


def adam7(a: np.ndarray) -> bytes:
    out = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                           (1, 0, 2, 2), (0, 1, 1, 2)]:
        sub = a[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            out += rows_filter0(sub)
    return out


def gif_patch_subrect(data: bytes, grow=(5, 4), at=(3, 2), background=5) -> bytes:
    """Makes the first frame smaller than the screen: a bigger logical screen, the frame moved
    to `at`, and a background index > 0 (stb fills with it; PIL does not)."""
    b = bytearray(data)
    w, h = struct.unpack("<HH", b[6:10])
    b[6:10] = struct.pack("<HH", w + grow[0], h + grow[1])
    b[11] = background
    p = 13 + (3 << ((b[10] & 7) + 1) if b[10] & 0x80 else 0)
    while b[p] == 0x21:
        p += 2
        while b[p]:
            p += 1 + b[p]
        p += 1
    assert b[p] == 0x2C
    b[p + 1:p + 5] = struct.pack("<HH", *at)
    return bytes(b)


def strip_adobe(data: bytes) -> bytes:
    p = 2
    while data[p] == 0xFF and data[p + 1] != 0xDA:
        n = struct.unpack(">H", data[p + 2:p + 4])[0]
        if data[p + 1] == 0xEE:
            return data[:p] + data[p + 2 + n:]
        p += 2 + n
    raise ValueError("no APP14 marker")


def make_fixtures(data: str) -> None:
    src = np.asarray(Image.open(os.path.join(data, "photos", "parrot.jpg")).convert("RGB"))
    rgb = np.ascontiguousarray(src[300:343, 200:261])  # 61x43: odd sizes exercise the edges
    im = Image.fromarray(rgb)
    gray = np.ascontiguousarray(rgb.mean(axis=2).astype(np.uint8))
    alpha = ((np.arange(61)[None, :] * 4 + np.arange(43)[:, None] * 3) % 256).astype(np.uint8)
    rgba = np.dstack([rgb, alpha])
    files = {}  # name -> bytes

    def save(name, image, **kw):
        buf = io.BytesIO()
        image.save(buf, **kw)
        files[name] = buf.getvalue()

    # JPEG: chroma subsamplings (fancy upsampling paths), progressive, gray, CMYK.
    for s, tag in [(2, "420"), (1, "422"), (0, "444")]:
        save(f"jpeg_{tag}.jpg", im, format="JPEG", quality=90, subsampling=s)
    save("jpeg_progressive.jpg", im, format="JPEG", quality=85, progressive=True, optimize=True)
    save("jpeg_gray.jpg", Image.fromarray(gray, "L"), format="JPEG", quality=90)
    # CMYK with a real black channel (PIL's own RGB->CMYK leaves K = 0, which tests nothing).
    cmy = 255 - rgb.astype(np.int32)
    k = (cmy.min(axis=2) * 0.8).astype(np.int32)
    cmyk = np.dstack([cmy - k[..., None], k]).clip(0, 255).astype(np.uint8)
    save("jpeg_cmyk.jpg", Image.fromarray(cmyk, "CMYK"), format="JPEG", quality=92)
    files["jpeg_cmyk_noadobe.jpg"] = strip_adobe(files["jpeg_cmyk.jpg"])
    # EXIF orientation 1..8 on a tiny asymmetric image.
    small = Image.fromarray(np.ascontiguousarray(rgb[:7, :13]))
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        save(f"exif_o{o}.jpg", small, format="JPEG", quality=95, subsampling=0,
             exif=ex.tobytes())
    ex = Image.Exif()
    ex[0x0112] = 6
    save("exif_o6.png", small, format="PNG", exif=ex.tobytes())

    # PNG: PIL-written modes, and hand-made depths/interlace PIL cannot write.
    save("png_rgb.png", im, format="PNG")
    save("png_rgba.png", Image.fromarray(rgba, "RGBA"), format="PNG")
    save("png_la.png", Image.fromarray(np.dstack([gray, alpha]), "LA"), format="PNG")
    save("png_l.png", Image.fromarray(gray, "L"), format="PNG")
    save("png_1bit.png", Image.fromarray(gray > 128), format="PNG")
    pal = im.quantize(16)
    save("png_p_trns.png", pal, format="PNG", transparency=3)
    save("png_p4.png", pal, format="PNG", bits=4)
    rgb16 = (rgb.astype(">u2") * 257 + np.arange(61, dtype=">u2")[None, :, None]).astype(">u2")
    files["png_rgb16.png"] = png_bytes(61, 43, 2, 16, rows_filter0(rgb16))
    rgba16 = np.dstack([rgb16, (alpha.astype(">u2") * 257)]).astype(">u2")
    files["png_rgba16.png"] = png_bytes(61, 43, 6, 16, rows_filter0(rgba16))
    la16 = np.dstack([rgb16[..., 0], (alpha.astype(">u2") * 257)]).astype(">u2")
    files["png_la16.png"] = png_bytes(61, 43, 4, 16, rows_filter0(la16))
    files["png_l16.png"] = png_bytes(61, 43, 0, 16, rows_filter0(rgb16[..., 1]))
    l2 = (gray >> 6).astype(np.uint8)  # 2-bit gray, packed 4 per byte
    l2p = np.zeros((43, 16), np.uint8)
    for x in range(61):
        l2p[:, x // 4] |= l2[:, x] << (6 - 2 * (x % 4))
    files["png_l2.png"] = png_bytes(61, 43, 0, 2, rows_filter0(l2p))
    files["png_interlaced.png"] = png_bytes(61, 43, 2, 8, adam7(rgb), interlace=1)

    # GIF: plain, transparent, first frame smaller than the screen, animation.
    save("gif_plain.gif", pal, format="GIF")
    save("gif_trns.gif", pal, format="GIF", transparency=3)
    files["gif_subrect.gif"] = gif_patch_subrect(files["gif_plain.gif"])
    files["gif_subrect_trns.gif"] = gif_patch_subrect(files["gif_trns.gif"])
    frame2 = Image.fromarray(255 - rgb).quantize(16)
    buf = io.BytesIO()
    pal.save(buf, format="GIF", save_all=True, append_images=[frame2], duration=100, loop=0)
    files["gif_anim.gif"] = buf.getvalue()

    # BMP, TGA, PNM.
    save("bmp_p8.bmp", pal, format="BMP")
    save("bmp_1bit.bmp", Image.fromarray(gray > 100), format="BMP")
    save("bmp_rgba.bmp", Image.fromarray(rgba, "RGBA"), format="BMP")
    save("tga_rgb.tga", im, format="TGA")
    save("tga_rgb_rle.tga", im, format="TGA", compression="tga_rle")
    save("tga_rgba.tga", Image.fromarray(rgba, "RGBA"), format="TGA")
    save("tga_l.tga", Image.fromarray(gray, "L"), format="TGA")
    save("tga_p.tga", pal, format="TGA")
    save("pnm_p6.ppm", im, format="PPM")
    save("pnm_p5.pgm", Image.fromarray(gray, "L"), format="PPM")

    for old in glob.glob(os.path.join(OUT, "*")):
        if not old.endswith(".txt"):
            os.remove(old)
    lines = []
    for name, blob in sorted(files.items()):
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(blob)
        for exif in (0, 1) if name.startswith("exif_") else (0,):
            a, ref = pil_rgb(path, bool(exif)), "pil"
            if name == "png_l16.png":
                # PIL 9.4: mode "I" -> RGB clips at 255. seer keeps the high byte instead.
                a, ref = np.repeat((rgb16[..., 1] >> 8).astype(np.uint8)[..., None], 3, 2), "highbyte"
            lines.append(f"{name} {exif} {a.shape[1]} {a.shape[0]} {checksum(a)} {ref}")
    with open(os.path.join(OUT, "fixtures.txt"), "w") as f:
        f.write("# made by tools/golden/make_image_fixtures.py: <file> <exif> <w> <h> <crc32> "
                "<adler32> <ref>\n")
        f.write("\n".join(lines) + "\n")
    total = sum(len(b) for b in files.values())
    print(f"fixtures.txt: {len(lines)} lines, {len(files)} files, {total} bytes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("SEER_DATA",
                                                     os.path.join(ROOT, "..", "shared", "data")))
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    make_fixtures(args.data)
    write_data_checksums(args.data)


if __name__ == "__main__":
    main()
