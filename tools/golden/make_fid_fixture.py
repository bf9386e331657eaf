#!/usr/bin/python3
"""Golden fixtures for the FID statistics, the Frechet distance and the .npz reader.

    /usr/bin/python3 tools/golden/make_fid_fixture.py [--out tests/golden/fid]

Writes to tests/golden/fid/:
  stats.safetensors   Frechet-distance cases of dims 16 and 64 (full-rank and rank-deficient
                      covariances) as F32 tensors <case>.mu1/.mu2 and either <case>.sigma1/2 or
                      a low-rank factor <case>.a1/2 ([d, r]; sigma = a a^T / r in float64),
                      values exactly representable in float32 so the float64 computation on
                      both sides starts from the same numbers; the reference distance per case
                      in metadata fid.<case> (%.17g). Plus `features` [300, 16] with a large offset and its
                      numpy.cov(rowvar=False) statistics (`features.mu`, `features.sigma`).
                      Metadata gen.* describe 2048-d cases the C test regenerates from a seed
                      with splitmix64 (tests/test_util.h's seer_rng) instead of storing 64 MB.
  savez.npz, savez_compressed.npz, zip64.npz, no_mu.npz
                      .npz files written by numpy (np.savez, np.savez_compressed) and a
                      hand-made ZIP64 archive numpy reads, with arrays of closed-form values
                      the C test recomputes (see tests/test_npz.c).

The reference distance is pytorch-fid's calculate_frechet_distance formula, written here from
its definition: scipy.linalg.sqrtm of sigma1 @ sigma2, real part, trace. An eigenvalue-based
value (independent of sqrtm) is printed next to it as a cross-check.
"""
import argparse
import os
import struct
import sys
import zlib

import numpy as np
from scipy import linalg

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import seer_st  # noqa: E402

GOLDEN = 0x9E3779B97F4A7C15


def splitmix_uniform(seed, n):
    """n draws of tests/test_util.h's seer_rng_uniform(seer_rng_new(seed)), as float64."""
    with np.errstate(over="ignore"):
        s0 = np.uint64((seed * GOLDEN + 1) % 2**64)
        s = s0 + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GOLDEN)
        z = s
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / 16777216.0


def gen_case(seed, d, r1, r2, diag):
    """mu_k = u - 0.5; A_k: [d, r_k] of u - 0.5; sigma_k = A_k A_k^T / r_k + diag * I.
    Draw order: mu1, A1 (row-major), mu2, A2."""
    u = splitmix_uniform(seed, 2 * d + d * (r1 + r2)) - 0.5
    mu1, u = u[:d], u[d:]
    a1, u = u[:d * r1].reshape(d, r1), u[d * r1:]
    mu2, u = u[:d], u[d:]
    a2 = u[:d * r2].reshape(d, r2)
    s1 = a1 @ a1.T / r1 + diag * np.eye(d)
    s2 = a2 @ a2.T / r2 + diag * np.eye(d)
    return mu1, s1, mu2, s2


def fid_sqrtm(mu1, s1, mu2, s2):
    """pytorch-fid's formula (calculate_frechet_distance), eps = 1e-6."""
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fid_eig(mu1, s1, mu2, s2):
    w, v = np.linalg.eigh(s1)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.linalg.eigvalsh(r @ s2 @ r)
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(lam, 0, None)).sum())


def f32(x):
    return np.asarray(x, np.float32).astype(np.float64)


def random_stats(rng, d, n_samples, scale):
    """Full-rank statistics of n_samples > d Gaussian features, rounded to float32 values."""
    x = rng.standard_normal((n_samples, d)) * scale + rng.uniform(-1, 1, d)
    return f32(x.mean(0)), f32(np.cov(x, rowvar=False))


def low_rank(rng, d, r, scale):
    """mu and a factor a: [d, r] of float32 values; sigma = a a^T / r is formed in float64 on
    both sides. Rounding a rank-deficient sigma itself to float32 would make it indefinite by
    ~1e-8, and sqrt() turns such null-space noise into ~1e-4 per eigenvalue: the references
    would then measure rounding, not the method."""
    a = f32(rng.standard_normal((d, r)) * scale)
    return f32(rng.uniform(-1, 1, d)), a


def make_stats(out):
    rng = np.random.default_rng(20240607)
    tensors, meta = {}, {}
    # (name, dim, side 1, side 2): ("full", n_samples) or ("rank", r)
    cases = [("d16_full", 16, ("full", 200), ("full", 300)),
             ("d16_lowrank", 16, ("rank", 8), ("rank", 11)),
             ("d64_full", 64, ("full", 500), ("full", 400)),
             ("d64_lowrank", 64, ("rank", 20), ("rank", 29)),
             ("d64_mixed", 64, ("full", 1000), ("rank", 10))]
    for name, d, *sides in cases:
        stats = []
        for k, (kind, n) in enumerate(sides, 1):
            if kind == "full":
                mu, s = random_stats(rng, d, n, 1.0 + 0.3 * k)
                tensors[f"{name}.sigma{k}"] = s.astype(np.float32)
            else:
                mu, a = low_rank(rng, d, n, 1.0 + 0.3 * k)
                s = a @ a.T / n
                tensors[f"{name}.a{k}"] = a.astype(np.float32)
            tensors[f"{name}.mu{k}"] = mu.astype(np.float32)
            stats += [mu, s]
        ref, chk = fid_sqrtm(*stats), fid_eig(*stats)
        print(f"{name}: sqrtm {ref:.12g}  eig {chk:.12g}  rel {abs(ref - chk) / abs(ref):.1e}")
        meta[f"fid.{name}"] = f"{ref:.17g}"
    # Streaming statistics: features far from zero (mean 100, spread ~1).
    x = (rng.standard_normal((300, 16)) + 100).astype(np.float32)
    tensors["features"] = x
    tensors["features.mu"] = x.astype(np.float64).mean(0).astype(np.float32)
    tensors["features.sigma"] = np.cov(x, rowvar=False).astype(np.float32)
    # 2048-d cases regenerated by the test from a seed: rank-deficient (ranks 100 and 300,
    # fewer samples than dims, as with a small image set) and full rank.
    for name, seed, r1, r2, diag in (("d2048_lowrank", 7, 100, 300, 0.0), ("d2048_full", 8, 64, 96, 0.05)):
        mu1, s1, mu2, s2 = gen_case(seed, 2048, r1, r2, diag)
        ref, chk = fid_sqrtm(mu1, s1, mu2, s2), fid_eig(mu1, s1, mu2, s2)
        print(f"{name}: sqrtm {ref:.12g}  eig {chk:.12g}  rel {abs(ref - chk) / abs(ref):.1e}")
        meta[f"gen.{name}"] = f"{seed},{r1},{r2},{diag!r}"
        meta[f"fid.{name}"] = f"{ref:.17g}"
    seer_st.write_safetensors(os.path.join(out, "stats.safetensors"), tensors, meta)


# ---- npz ----------------------------------------------------------------------------------
# Closed-form arrays (tests/test_npz.c recomputes them): mu[i] = i / 4 - 1,
# sigma[i, j] = 1 / (1 + i + j), images[k] = (7 k) mod 256.

def npz_arrays(d=16):
    i = np.arange(d, dtype=np.float64)
    return {
        "mu": i / 4 - 1,
        "sigma": 1.0 / (1 + i[:, None] + i[None, :]),
        "images": (np.arange(4 * 8 * 8 * 3) * 7 % 256).astype(np.uint8).reshape(4, 8, 8, 3),
    }


def write_zip64(path, arrays):
    """A stored zip whose central directory and end record use ZIP64 fields throughout (as a
    large archive would), holding the .npy bytes numpy writes."""
    import io
    from numpy.lib import format as npf
    local, central = b"", b""
    for name, arr in arrays.items():
        buf = io.BytesIO()
        npf.write_array(buf, np.asanyarray(arr))
        data = buf.getvalue()
        fname = (name + ".npy").encode()
        crc, n, off = zlib.crc32(data), len(data), len(local)
        extra = struct.pack("<HHQQ", 1, 16, n, n)
        local += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                             0xFFFFFFFF, len(fname), len(extra)) + fname + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, n, n, off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0x21, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(cextra), 0, 0, 0, 0,
                               0xFFFFFFFF) + fname + cextra
    cd_off, cd_size, count = len(local), len(central), len(arrays)
    eocd64_off = cd_off + cd_size
    eocd64 = struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, count, count, cd_size, cd_off)
    locator = struct.pack("<IIQI", 0x07064b50, 0, eocd64_off, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(local + central + eocd64 + locator + eocd)


def make_npz(out):
    a = npz_arrays()
    i = np.arange(8, dtype=np.float64)
    # ADM reference batches put the images first (np.savez(path, images, mu=..., sigma=...)).
    np.savez(os.path.join(out, "savez.npz"), arr_0=a["images"], mu=a["mu"], sigma=a["sigma"])
    np.savez_compressed(os.path.join(out, "savez_compressed.npz"), arr_0=a["images"], mu=a["mu"],
                        sigma=a["sigma"],
                        f32=(1.0 / (1 + i)).astype(np.float32),
                        f16=(i / 4).astype(np.float16),
                        big_endian=(i / 2).astype(">f8"),
                        fortran=np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
                        ints=np.arange(3))
    write_zip64(os.path.join(out, "zip64.npz"), {"mu": a["mu"], "sigma": a["sigma"]})
    np.savez(os.path.join(out, "no_mu.npz"), arr_0=a["images"], sigma=a["sigma"])
    for f in ("savez.npz", "savez_compressed.npz", "zip64.npz", "no_mu.npz"):
        with np.load(os.path.join(out, f)) as z:
            names = list(z.keys())
            if "mu" in z:
                assert np.array_equal(z["mu"], a["mu"]) and np.array_equal(z["sigma"], a["sigma"])
        print(f"{f}: {names}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "golden", "fid"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    make_stats(args.out)
    make_npz(args.out)


if __name__ == "__main__":
    main()
