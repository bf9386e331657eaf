#!/usr/bin/env python3
"""The rational approximation of erf used by the CPU GELU (core/cpu/elementwise.c, erf_f):
erf(x) ~ x P(x^2) / Q(x^2) on [0, 4] (odd, so on [-4, 4]), P of degree 6 and Q of degree 4 in
x^2 with Q(0) = 1, fitted by iteratively reweighted linear least squares (the weights 1 / Q
turn the linearized residual into the true one). Prints the coefficients as F32 and the
largest error of the F32 evaluation against math.erf on [-6, 6].

    /usr/bin/python3 tools/fit_erf.py
"""
from math import erf

import numpy as np


def fit(n_p=7, n_q=5, iterations=12):
    xs = np.linspace(0, 4, 20001)
    ys = np.array([erf(v) for v in xs])
    t = xs ** 2
    w = np.ones_like(xs)
    for _ in range(iterations):
        a = np.hstack([xs[:, None] * t[:, None] ** np.arange(n_p),
                       -(ys[:, None] * t[:, None] ** np.arange(1, n_q))])
        sol, *_ = np.linalg.lstsq(a * w[:, None], ys * w, rcond=None)
        p, q = sol[:n_p], np.concatenate([[1.0], sol[n_p:]])
        w = 1 / np.abs(np.polyval(q[::-1], t))
    return p.astype(np.float32), q.astype(np.float32)


def erf_f32(x, p, q):
    """As erf_f evaluates it: clamp to [-4, 4], Horner in F32, exactly +-1 from |x| >= 3.9."""
    x0 = x.astype(np.float32)
    x = np.clip(x0, -4, 4).astype(np.float32)
    t = (x * x).astype(np.float32)
    num, den = np.float32(0), np.float32(0)
    for c in p[::-1]:
        num = (num * t + c).astype(np.float32)
    for c in q[::-1]:
        den = (den * t + c).astype(np.float32)
    return np.where(np.abs(x0) >= 3.9, np.sign(x0), x * num / den).astype(np.float32)


def main():
    p, q = fit()
    xs = np.linspace(-6, 6, 400001).astype(np.float32)
    ref = np.array([erf(float(v)) for v in xs])
    print("P:", ", ".join(repr(float(c)) for c in p))
    print("Q:", ", ".join(repr(float(c)) for c in q))
    print(f"max abs error of the F32 evaluation on [-6, 6]: {np.abs(erf_f32(xs, p, q) - ref).max():.2e}")


if __name__ == "__main__":
    main()
