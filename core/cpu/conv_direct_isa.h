// One ISA's instance of the direct convolution (conv_direct.c includes this file once per
// ISA; it has no include guard on purpose). The includer defines:
//   ISA(name)       the name with the ISA's suffix
//   TARGET          the function attribute that enables the ISA
//   vec, VL         the vector type and its float lanes
//   V_LOAD(p) V_STORE(p, v) V_BCAST(p) (*p in every lane) V_FMA(a, b, c) (a * b + c)
//   V_ADD(a, b) V_MAX(a, b) V_ZERO()
//   RB1, RB2, RB4   output pixels per tile (powers of two) for 1, 2 and 4 vectors of output
//                   channels: accumulators are RB * NV registers, plus NV weight vectors and
//                   one broadcast must fit the register file.
// and this file undefines them at its end, ready for the next ISA.

// Output pixels ox0 .. ox0 + rb - 1 of one row and channels co0 .. co0 + nv*VL - 1:
// acc[r][v] = bias + sum over taps (ky, kx) and input channels ci of
// xrow[ky][(ox0 + r)*sw + kx][ci] * wt[ky][kx][ci][co0 + v*VL ...], then + residual, ReLU.
// For a fixed ky the (kx, ci) pairs are contiguous in both the padded row and the packed
// weight, so the reduction is one loop of kw * C_in steps per ky. nv and rb are constants
// after inlining, which keeps acc in registers.
// sxc: the pixel stride sw * C_in when it is a constant of the instance (the rb broadcasts
// then address one base register plus constant offsets instead of rb index registers,
// which do not fit the 16 general registers at rb = 16), else 0.
TARGET static inline __attribute__((always_inline)) void
ISA(tile)(const direct_args *a, const float *xrow, int64_t xrs, float *yrow, const float *rrow,
          int64_t ox0, int64_t co0, const int nv, const int rb, const int64_t sxc) {
    const int64_t cout = a->cout, sx = sxc ? sxc : a->sw * a->cin, kwc = a->kw * a->cin;
    vec acc[16][4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        vec bv = a->bias ? V_LOAD(a->bias + co0 + v * VL) : V_ZERO();
#pragma GCC unroll 16
        for (int r = 0; r < rb; r++)
            acc[r][v] = bv;
    }
    for (int64_t ky = 0; ky < a->kh; ky++) {
        const float *xp = xrow + ky * xrs + ox0 * sx;
        const float *wp = a->wt + ky * kwc * cout + co0;
        for (int64_t k = 0; k < kwc; k++, wp += cout) {
            vec wv[4];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                wv[v] = V_LOAD(wp + v * VL);
#pragma GCC unroll 16
            for (int r = 0; r < rb; r++) {
                vec xb = V_BCAST(xp + r * sx + k);
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++)
                    acc[r][v] = V_FMA(xb, wv[v], acc[r][v]);
            }
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < rb; r++) {
        float *yp = yrow + (ox0 + r) * cout + co0;
        const float *rp = rrow ? rrow + (ox0 + r) * cout + co0 : NULL;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            vec t = acc[r][v];
            if (rp) t = V_ADD(t, V_LOAD(rp + v * VL));
            if (a->relu) t = V_MAX(t, V_ZERO());
            V_STORE(yp + v * VL, t);
        }
    }
}

typedef void (*ISA(tile_fn))(const direct_args *a, const float *xrow, int64_t xrs, float *yrow,
                             const float *rrow, int64_t ox0, int64_t co0);

#define DIRECT_TILE(nv, rb, sx)                                                                 \
    TARGET static void ISA(tile_##nv##_##rb##_##sx)(const direct_args *a, const float *xrow,   \
                                                    int64_t xrs, float *yrow,                  \
                                                    const float *rrow, int64_t ox0,            \
                                                    int64_t co0) {                             \
        ISA(tile)(a, xrow, xrs, yrow, rrow, ox0, co0, nv, rb, sx);                              \
    }
DIRECT_TILE(1, 1, 0) DIRECT_TILE(1, 2, 0) DIRECT_TILE(1, 4, 0) DIRECT_TILE(1, 8, 0)
DIRECT_TILE(1, 16, 0)
DIRECT_TILE(2, 1, 0) DIRECT_TILE(2, 2, 0) DIRECT_TILE(2, 4, 0) DIRECT_TILE(2, 8, 0)
DIRECT_TILE(4, 1, 0) DIRECT_TILE(4, 2, 0) DIRECT_TILE(4, 4, 0)
DIRECT_TILE(1, RB1, 16) DIRECT_TILE(1, RB1, 32) DIRECT_TILE(1, RB1, 64)
DIRECT_TILE(2, RB2, 16) DIRECT_TILE(2, RB2, 32) DIRECT_TILE(2, RB2, 64)
DIRECT_TILE(4, RB4, 16) DIRECT_TILE(4, RB4, 32) DIRECT_TILE(4, RB4, 64)
#undef DIRECT_TILE

// [nv = 1, 2, 4][log2 rb]; sizes above the ISA's RB are never called.
static const ISA(tile_fn) ISA(tiles)[3][5] = {
    {ISA(tile_1_1_0), ISA(tile_1_2_0), ISA(tile_1_4_0), ISA(tile_1_8_0), ISA(tile_1_16_0)},
    {ISA(tile_2_1_0), ISA(tile_2_2_0), ISA(tile_2_4_0), ISA(tile_2_8_0), NULL},
    {ISA(tile_4_1_0), ISA(tile_4_2_0), ISA(tile_4_4_0), NULL, NULL},
};
// Full tiles ([nv = 1, 2, 4][sx = 16, 32, 64]): C_in = C_out at stride 1 or C_out / 2 at
// stride 2, as in residual networks.
static const ISA(tile_fn) ISA(tiles_sx)[3][3] = {
    {ISA(tile_1_RB1_16), ISA(tile_1_RB1_32), ISA(tile_1_RB1_64)},
    {ISA(tile_2_RB2_16), ISA(tile_2_RB2_32), ISA(tile_2_RB2_64)},
    {ISA(tile_4_RB4_16), ISA(tile_4_RB4_32), ISA(tile_4_RB4_64)},
};

// Output row oy of image bi, its kh input rows at xrow (rows xrs floats apart): every block of
// output channels (4, 2 or 1 vectors wide) over the row in tiles of RB pixels, the tail in
// halving tiles.
static void ISA(row)(const direct_args *a, const float *xrow, int64_t xrs, int64_t bi,
                     int64_t oy) {
    float *yrow = a->y + (bi * a->ho + oy) * a->wo * a->cout;
    const float *rrow = a->res ? a->res + (bi * a->ho + oy) * a->wo * a->cout : NULL;
    const int64_t sx = a->sw * a->cin;
    const int sxi = sx == 16 ? 0 : sx == 32 ? 1 : sx == 64 ? 2 : -1;
    for (int64_t co0 = 0; co0 < a->cout;) {
        int64_t left = a->cout - co0;
        int nvi = left >= 4 * VL ? 2 : left >= 2 * VL ? 1 : 0;
        int rb_max = nvi == 2 ? RB4 : nvi == 1 ? RB2 : RB1;
        for (int64_t ox0 = 0; ox0 < a->wo;) {
            int64_t n = a->wo - ox0;
            int lg = 0;
            while ((1 << (lg + 1)) <= rb_max && (1 << (lg + 1)) <= n)
                lg++;
            if ((1 << lg) == rb_max && sxi >= 0)
                ISA(tiles_sx)[nvi][sxi](a, xrow, xrs, yrow, rrow, ox0, co0);
            else
                ISA(tiles)[nvi][lg](a, xrow, xrs, yrow, rrow, ox0, co0);
            ox0 += 1 << lg;
        }
        co0 += (int64_t)VL << nvi;
    }
}

#undef ISA
#undef TARGET
#undef vec
#undef VL
#undef V_LOAD
#undef V_STORE
#undef V_BCAST
#undef V_FMA
#undef V_ADD
#undef V_MAX
#undef V_ZERO
#undef RB1
#undef RB2
#undef RB4
