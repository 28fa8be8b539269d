/* The transforms of models/winograd.py's F(4x4, 2x2) convolutions in float32, each in one
 * pass over memory: a channels-last map's 5x5 tiles carried to the 25 points (B^T d B)
 * and the adjoint (B d B^T, summed where tiles overlap) straight into the map's gradient;
 * the 25 products' points brought back to 4x4 output tiles (A^T m A) and the adjoint; a
 * weight's 2x2 kernels carried to the points (G g G^T) and the adjoint.
 *
 * PyTorch does the first in four passes over memory (padding, space-to-depth, the tiles,
 * a product with the 25x25 transform) and the others in more. The transforms come from
 * the caller (winograd.py derives them), so this file holds no matrix of its own. Plain C
 * with GCC's vector extensions: a value is one vector register of channels, whatever
 * -march=native finds (V below).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T 4        /* output tile */
#define S 5        /* input tile */
#define P (S * S)  /* points */
/* channels handled together: one vector register's worth. 16 with AVX-512 (32 registers
 * hold a 5x5 tile); 8 with AVX2, whose 16 registers spill 16-wide tiles: 8 made the
 * transforms 1.8 to 2.7 times as fast on an AMD EPYC without AVX-512 (docs/speed.md) */
#ifdef __AVX512F__
#define V 16
#else
#define V 8
#endif

/* V floats as one value, loaded and stored at any float's alignment */
typedef float vf __attribute__((vector_size(4 * V), aligned(4), may_alias));

/* w (<= 16) values from p, zeros after them */
static inline vf load(const float *p, int64_t w) {
    if (w == V) return *(const vf *)p;
    vf v = {0};
    memcpy(&v, p, sizeof(float) * w);
    return v;
}

static inline void store(float *p, vf v, int64_t w) {
    if (w == V)
        *(vf *)p = v;
    else
        memcpy(p, &v, sizeof(float) * w);
}

/* out[r][c] = sum over i < k of m[r * mr + c * mc + i * mi] in[r * ir + c * ic + i * ii]
 * for r < rows, c < cols: one half of a separable transform of a tile of vectors, by the
 * strides (down and across below). Always inlined with constant sizes and strides, so that
 * it unrolls and the tile stays in registers. */
#define INLINE static inline __attribute__((always_inline))
INLINE void contract(vf *out, const float *m, int mr, int mc, int mi, const vf *in, int ir,
                     int ic, int ii, int rows, int k, int cols) {
#pragma GCC unroll 25
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 25
        for (int c = 0; c < cols; c++) {
            vf s = {0};
#pragma GCC unroll 25
            for (int i = 0; i < k; i++)
                s += m[r * mr + c * mc + i * mi] * in[r * ir + c * ic + i * ii];
            out[r * cols + c] = s;
        }
}

/* A (rows x k) tile of vectors, row-major, transformed down its columns, out[r][c] =
 * sum_i m(r, i) in[i][c], or along its rows (in: rows x k), out[r][c] = sum_i m(c, i)
 * in[r][i]; m(r, i) = m[r * rs + i * is], so a matrix and its transpose are the same call. */
INLINE void down(vf *out, const float *m, int rs, int is, const vf *in, int rows, int k,
                 int cols) {
    contract(out, m, rs, 0, is, in, 0, 1, cols, rows, k, cols);
}

INLINE void across(vf *out, const float *m, int rs, int is, const vf *in, int rows, int k,
                   int cols) {
    contract(out, m, 0, rs, is, in, k, 0, 1, rows, k, cols);
}

/* x: (B, H, H, C) -> out: (25, B * NT * NT, 4C), the map padded by one (and with zeros
 * past its end), rearranged space-to-depth with channels (row parity, column parity,
 * channel), cut into 5x5 tiles at stride 4 (NT a side) and each carried to the points:
 * out[a * 5 + b] = sum over (i, j) of bt[a][i] bt[b][j] tile[i][j]. */
int input_points(const float *x, float *out, const float *bt_, int64_t B, int64_t H,
                 int64_t C, int64_t NT, int nthreads) {
    const int64_t n = B * NT * NT, K = 4 * C;
    const vf zero = {0};
    float bt[P]; /* a copy no store can alias */
    memcpy(bt, bt_, sizeof bt);
#pragma omp parallel for num_threads(nthreads) schedule(static) collapse(2)
    for (int64_t b = 0; b < B; b++)
        for (int64_t ti = 0; ti < NT; ti++)
            for (int64_t tj = 0; tj < NT; tj++) {
                const int64_t tile = (b * NT + ti) * NT + tj;
                for (int par = 0; par < 4; par++) {
                    const int p = par >> 1, q = par & 1;
                    for (int64_t c0 = 0; c0 < C; c0 += V) {
                        const int64_t w = C - c0 < V ? C - c0 : V;
                        vf d[P], m[P];
#pragma GCC unroll 25
                        for (int i = 0; i < S; i++) {
                            const int64_t r = 2 * (T * ti + i) + p - 1;
#pragma GCC unroll 25
                            for (int j = 0; j < S; j++) {
                                const int64_t s = 2 * (T * tj + j) + q - 1;
                                const int inside = r >= 0 && r < H && s >= 0 && s < H;
                                d[i * S + j] =
                                    inside ? load(x + ((b * H + r) * H + s) * C + c0, w) : zero;
                            }
                        }
                        down(m, bt, S, 1, d, S, S, S); /* B^T d */
                        across(d, bt, S, 1, m, S, S, S); /* (B^T d) B */
                        float *dst = out + tile * K + par * C + c0;
#pragma GCC unroll 25
                        for (int a = 0; a < P; a++) store(dst + a * n * K, d[a], w);
                    }
                }
            }
    return 0;
}

/* The adjoint of input_points: points (25, B * NT * NT, 4C) -> dx (B, H, H, C), each
 * value the sum over the tiles that hold it of sum over (a, b) of bt[a][i] bt[b][j]
 * points[a * 5 + b]. One image a thread at a time, summed in a space-to-depth map of its
 * own, then cropped into dx. */
int input_points_adjoint(const float *points, float *dx, const float *bt_, int64_t B,
                         int64_t H, int64_t C, int64_t NT, int nthreads) {
    const int64_t n = B * NT * NT, K = 4 * C, N = T * NT + 1;
    float bt[P];
    memcpy(bt, bt_, sizeof bt);
    int failed = 0;
#pragma omp parallel num_threads(nthreads)
    {
        float *acc = malloc(sizeof(float) * N * N * K);
        if (acc == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            if (acc == NULL) continue;
            memset(acc, 0, sizeof(float) * N * N * K);
            for (int64_t ti = 0; ti < NT; ti++)
                for (int64_t tj = 0; tj < NT; tj++) {
                    const int64_t tile = (b * NT + ti) * NT + tj;
                    for (int64_t k0 = 0; k0 < K; k0 += V) {
                        const int64_t w = K - k0 < V ? K - k0 : V;
                        vf g[P], m[P];
#pragma GCC unroll 25
                        for (int a = 0; a < P; a++) g[a] = load(points + (a * n + tile) * K + k0, w);
                        across(m, bt, 1, S, g, S, S, S); /* g B, then B^T (g B): the adjoint of B^T d B */
                        down(g, bt, 1, S, m, S, S, S);
#pragma GCC unroll 25
                        for (int i = 0; i < S; i++)
#pragma GCC unroll 25
                            for (int j = 0; j < S; j++) {
                                float *dst = acc + ((T * ti + i) * N + T * tj + j) * K + k0;
                                store(dst, load(dst, w) + g[i * S + j], w);
                            }
                    }
                }
            /* the padded map's row 2A + p is space-to-depth row A, channel block p */
            for (int64_t r = 0; r < H; r++)
                for (int64_t s = 0; s < H; s++) {
                    const int64_t pr = r + 1, ps = s + 1;
                    const float *src =
                        acc + ((pr / 2) * N + ps / 2) * K + ((pr % 2) * 2 + ps % 2) * C;
                    memcpy(dx + ((b * H + r) * H + s) * C, src, sizeof(float) * C);
                }
        }
        free(acc);
    }
    return failed ? -1 : 0;
}

/* The output side: products (25, B * NT * NT, O) at the points -> out (B, H, H, O), each
 * 4x4 tile at = A^T m A (at: A^T, 4 x 5, row-major), the parts past the map's edge
 * dropped. */
int output_tiles(const float *products, float *out, const float *at_, int64_t B, int64_t H,
                 int64_t O, int64_t NT, int nthreads) {
    const int64_t n = B * NT * NT;
    float at[T * S];
    memcpy(at, at_, sizeof at);
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t tile = 0; tile < n; tile++) {
        const int64_t b = tile / (NT * NT), ti = tile / NT % NT, tj = tile % NT;
        for (int64_t o0 = 0; o0 < O; o0 += V) {
            const int64_t w = O - o0 < V ? O - o0 : V;
            vf m[P], h[T * S];
#pragma GCC unroll 25
            for (int a = 0; a < P; a++) m[a] = load(products + (a * n + tile) * O + o0, w);
            down(h, at, S, 1, m, T, S, S); /* A^T m */
            across(m, at, S, 1, h, T, S, T); /* (A^T m) A, 4x4 */
#pragma GCC unroll 25
            for (int y = 0; y < T; y++)
#pragma GCC unroll 25
                for (int x = 0; x < T; x++) {
                    if (T * ti + y >= H || T * tj + x >= H) continue; /* past the edge */
                    store(out + ((b * H + T * ti + y) * H + T * tj + x) * O + o0, m[y * T + x], w);
                }
        }
    }
    return 0;
}

/* The adjoint of output_tiles: grad (B, H, H, O) -> points (25, B * NT * NT, O), each
 * tile's A g A^T, zero taken past the map's edge. */
int output_tiles_adjoint(const float *grad, float *points, const float *at_, int64_t B,
                         int64_t H, int64_t O, int64_t NT, int nthreads) {
    const int64_t n = B * NT * NT;
    const vf zero = {0};
    float at[T * S];
    memcpy(at, at_, sizeof at);
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t tile = 0; tile < n; tile++) {
        const int64_t b = tile / (NT * NT), ti = tile / NT % NT, tj = tile % NT;
        for (int64_t o0 = 0; o0 < O; o0 += V) {
            const int64_t w = O - o0 < V ? O - o0 : V;
            vf g[T * T], h[S * T];
#pragma GCC unroll 25
            for (int y = 0; y < T; y++)
#pragma GCC unroll 25
                for (int x = 0; x < T; x++) {
                    const int64_t r = T * ti + y, c = T * tj + x;
                    g[y * T + x] =
                        r < H && c < H ? load(grad + ((b * H + r) * H + c) * O + o0, w) : zero;
                }
            down(h, at, 1, S, g, S, T, T); /* A g, 5x4 */
            vf q[P];
            across(q, at, 1, S, h, S, T, S); /* A g A^T */
#pragma GCC unroll 25
            for (int a = 0; a < P; a++) store(points + (a * n + tile) * O + o0, q[a], w);
        }
    }
    return 0;
}

/* The weights: w (O, C, 4, 4) -> out (25, O, 4C), each output channel's four 2x2
 * space-to-depth kernels a channel (taps w[o, c, 2i + p, 2j + q], channel (p, q, c)) at
 * the points, gg (25 x 4, row-major) = G (x) G. w in channels-last memory (cl: O, 4, 4, C)
 * or not. One output channel a step, its taps gathered as (16, C) so that the channel
 * loops run over unit strides. */
int weight_points(const float *w, float *out, const float *gg, int64_t O, int64_t C, int cl,
                  int nthreads) {
    const int64_t K = 4 * C;
    int failed = 0;
#pragma omp parallel num_threads(nthreads)
    {
        float *taps = malloc(sizeof(float) * 16 * C);
        if (taps == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t o = 0; o < O; o++) {
            if (taps == NULL) continue;
            if (cl)
                memcpy(taps, w + o * 16 * C, sizeof(float) * 16 * C);
            else
                for (int64_t c = 0; c < C; c++)
                    for (int k = 0; k < 16; k++) taps[k * C + c] = w[(o * C + c) * 16 + k];
            for (int par = 0; par < 4; par++) {
                const int p = par >> 1, q = par & 1;
                const float *t00 = taps + (p * 4 + q) * C, *t01 = taps + (p * 4 + q + 2) * C;
                const float *t10 = taps + ((p + 2) * 4 + q) * C;
                const float *t11 = taps + ((p + 2) * 4 + q + 2) * C;
                for (int a = 0; a < P; a++) {
                    const float f00 = gg[a * 4], f01 = gg[a * 4 + 1];
                    const float f10 = gg[a * 4 + 2], f11 = gg[a * 4 + 3];
                    float *dst = out + (a * O + o) * K + par * C;
#pragma omp simd
                    for (int64_t c = 0; c < C; c++)
                        dst[c] = f00 * t00[c] + f01 * t01[c] + f10 * t10[c] + f11 * t11[c];
                }
            }
        }
        free(taps);
    }
    return failed ? -1 : 0;
}

/* The adjoint of weight_points: points (25, O, 4C) -> dw (O, C, 4, 4), channels-last
 * (cl) or not. */
int weight_points_adjoint(const float *points, float *dw, const float *gg, int64_t O,
                          int64_t C, int cl, int nthreads) {
    const int64_t K = 4 * C;
    int failed = 0;
#pragma omp parallel num_threads(nthreads)
    {
        float *taps = malloc(sizeof(float) * 16 * C);
        if (taps == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t o = 0; o < O; o++) {
            if (taps == NULL) continue;
            for (int par = 0; par < 4; par++) {
                const int p = par >> 1, q = par & 1;
                for (int ij = 0; ij < 4; ij++) {
                    const int i = ij >> 1, j = ij & 1;
                    float *t = taps + ((2 * i + p) * 4 + 2 * j + q) * C;
                    for (int64_t c = 0; c < C; c++) t[c] = 0.0f;
                    for (int a = 0; a < P; a++) {
                        const float f = gg[a * 4 + ij];
                        const float *src = points + (a * O + o) * K + par * C;
#pragma omp simd
                        for (int64_t c = 0; c < C; c++) t[c] += f * src[c];
                    }
                }
            }
            if (cl)
                memcpy(dw + o * 16 * C, taps, sizeof(float) * 16 * C);
            else
                for (int64_t c = 0; c < C; c++)
                    for (int k = 0; k < 16; k++) dw[(o * C + c) * 16 + k] = taps[k * C + c];
        }
        free(taps);
    }
    return failed ? -1 : 0;
}
