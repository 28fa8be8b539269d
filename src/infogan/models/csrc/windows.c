/* The 4x4 stride-2 windows of a channels-last map (im2col) and their adjoint, the
 * overlap-add, for models/conv.py's convolutions as matrix products, in bfloat16 or
 * float32.
 *
 * PyTorch does each in several passes: the windows by padding the map into a new one and
 * copying a strided view of it; the overlap-add by a float32 map that four slices of the
 * product are added into, then a crop, a conversion and a copy to dense memory. These do
 * one pass each, with the same arithmetic: the overlap-add sums each output's taps in
 * float32 in the order conv.py's did (bitwise the same results) and rounds once.
 */
#include <string.h>

#include "vectors.h"

#define K 4 /* kernel */

/* x: (B, H, W, C) -> rows (B * Ho * Wo, 16 * C), row (b, i, j) holding
 * x[b, 2i - 1 + kh, 2j - 1 + kw, :] for kh, kw in 0..3 (zero outside the map), channels
 * innermost. elem: bytes a value. */
int windows(const void *x, void *rows, int64_t B, int64_t H, int64_t W, int64_t C,
             int64_t Ho, int64_t Wo, int elem, int nthreads) {
    const int64_t line = C * elem; /* one pixel's channels */
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t bi = 0; bi < B * Ho; bi++) {
        int64_t b = bi / Ho, i = bi % Ho;
        for (int64_t j = 0; j < Wo; j++) {
            char *out = (char *)rows + ((bi * Wo + j) * K * K) * line;
            for (int kh = 0; kh < K; kh++) {
                int64_t y = 2 * i - 1 + kh;
                for (int kw = 0; kw < K; kw++, out += line) {
                    int64_t xx = 2 * j - 1 + kw;
                    if (y < 0 || y >= H || xx < 0 || xx >= W)
                        memset(out, 0, line);
                    else
                        memcpy(out, (const char *)x + ((b * H + y) * W + xx) * line, line);
                }
            }
        }
    }
    return 0;
}

/* The adjoint: cols (B * H * W, 16 * C) laid out as windows() lays them out -> out
 * (B, 2H, 2W, C), each output the float32 sum of the (up to four) taps that land on it,
 * in the order (kh // 2, kw // 2) = (0, 0), (0, 1), (1, 0), (1, 1). */
int overlap_add(const void *cols, void *out, int64_t B, int64_t H, int64_t W, int64_t C,
                 int f32, int nthreads) {
    const int64_t Ho = 2 * H, Wo = 2 * W;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t by = 0; by < B * Ho; by++) {
        int64_t b = by / Ho, oy = by % Ho;
        int64_t py = oy + 1, q = py / 2, ry = py % 2; /* padded row: pair q, parity ry */
        for (int64_t ox = 0; ox < Wo; ox++) {
            int64_t px = ox + 1, p = px / 2, rx = px % 2;
            int64_t taps[4];
            int n = 0;
            for (int dh = 0; dh < 2; dh++)
                for (int dw = 0; dw < 2; dw++) {
                    int64_t i = q - dh, j = p - dw;
                    if (i < 0 || i >= H || j < 0 || j >= W) continue;
                    int64_t kh = 2 * dh + ry, kw = 2 * dw + rx;
                    taps[n++] = (((b * H + i) * W + j) * K * K + kh * K + kw) * C;
                }
            int64_t o = ((b * Ho + oy) * Wo + ox) * C;
            /* conv.py's sum started at zero where the first tap was missing */
            int from_zero = !(q < H && p < W);
            for (int64_t c = 0; c < C; c += 16) {
                __mmask16 m = lanes(c, C);
                __m512 acc = from_zero ? _mm512_setzero_ps() : ld(cols, taps[0] + c, m, f32);
                for (int t = from_zero ? 0 : 1; t < n; t++)
                    acc = _mm512_add_ps(acc, ld(cols, taps[t] + c, m, f32));
                st(out, o + c, acc, m, f32);
            }
        }
    }
    return 0;
}

/* y (cols, rows) = x (rows, cols) transposed, both dense; elem: bytes a value (2 or 4). A
 * weight gradient's left operand: PyTorch's copy of a transposed view took six times as
 * long as a plain copy. Tiles of T x T values keep both sides' lines in the cache. */
#define T 64
#define TRANSPOSE(type)                                                                     \
    _Pragma("omp parallel for num_threads(nthreads) schedule(static)")                      \
    for (int64_t c0 = 0; c0 < cols; c0 += T)                                                \
        for (int64_t r0 = 0; r0 < rows; r0 += T) {                                          \
            int64_t c1 = c0 + T < cols ? c0 + T : cols, r1 = r0 + T < rows ? r0 + T : rows; \
            for (int64_t c = c0; c < c1; c++)                                               \
                for (int64_t r = r0; r < r1; r++)                                           \
                    ((type *)y)[c * rows + r] = ((const type *)x)[r * cols + c];            \
        }

int transpose(const void *x, void *y, int64_t rows, int64_t cols, int elem, int nthreads) {
    if (elem == 2) {
        TRANSPOSE(uint16_t)
    } else if (elem == 4) {
        TRANSPOSE(uint32_t)
    } else {
        return -1;
    }
    return 0;
}
