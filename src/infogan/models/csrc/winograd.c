/* The input side of models/winograd.py's F(4x4, 2x2) convolutions in float32: a
 * channels-last map's 5x5 tiles carried to the 25 points (B^T d B) in one pass, and the
 * adjoint (B d B^T, summed where tiles overlap) straight into the map's gradient.
 *
 * PyTorch does the first in four passes over memory (padding, space-to-depth, the tiles,
 * a product with the 25x25 transform) and the second in more; these read and write each
 * value once. The 5x5 transform comes from the caller (winograd.py derives it), so this
 * file holds no matrix of its own. Plain C: the channel loops vectorize for whatever
 * vector unit -march=native finds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T 4        /* output tile */
#define S 5        /* input tile */
#define P (S * S)  /* points */
#define V 16       /* channels handled together */

/* x: (B, H, H, C) -> out: (25, B * NT * NT, 4C), the map padded by one (and with zeros
 * past its end), rearranged space-to-depth with channels (row parity, column parity,
 * channel), cut into 5x5 tiles at stride 4 (NT a side) and each carried to the points:
 * out[a * 5 + b] = sum over (i, j) of bt[a][i] bt[b][j] tile[i][j]. */
int input_points(const float *x, float *out, const float *bt, int64_t B, int64_t H,
                 int64_t C, int64_t NT, int nthreads) {
    const int64_t n = B * NT * NT, K = 4 * C;
#pragma omp parallel for num_threads(nthreads) schedule(static) collapse(2)
    for (int64_t b = 0; b < B; b++)
        for (int64_t ti = 0; ti < NT; ti++) {
            float d[P][V], m[P][V];
            for (int64_t tj = 0; tj < NT; tj++) {
                const int64_t tile = (b * NT + ti) * NT + tj;
                for (int par = 0; par < 4; par++) {
                    const int p = par >> 1, q = par & 1;
                    for (int64_t c0 = 0; c0 < C; c0 += V) {
                        const int64_t w = C - c0 < V ? C - c0 : V;
                        for (int i = 0; i < S; i++) {
                            const int64_t r = 2 * (T * ti + i) + p - 1;
                            for (int j = 0; j < S; j++) {
                                const int64_t s = 2 * (T * tj + j) + q - 1;
                                float *dst = d[i * S + j];
                                if (r < 0 || r >= H || s < 0 || s >= H) {
                                    memset(dst, 0, sizeof(float) * V);
                                } else {
                                    const float *src = x + ((b * H + r) * H + s) * C + c0;
                                    for (int l = 0; l < w; l++) dst[l] = src[l];
                                    for (int l = w; l < V; l++) dst[l] = 0.0f;
                                }
                            }
                        }
                        /* rows, then columns */
                        for (int a = 0; a < S; a++)
                            for (int j = 0; j < S; j++) {
                                float acc[V] = {0};
                                for (int i = 0; i < S; i++) {
                                    const float f = bt[a * S + i];
#pragma omp simd
                                    for (int l = 0; l < V; l++) acc[l] += f * d[i * S + j][l];
                                }
                                memcpy(m[a * S + j], acc, sizeof acc);
                            }
                        for (int a = 0; a < S; a++)
                            for (int e = 0; e < S; e++) {
                                float acc[V] = {0};
                                for (int j = 0; j < S; j++) {
                                    const float f = bt[e * S + j];
#pragma omp simd
                                    for (int l = 0; l < V; l++) acc[l] += f * m[a * S + j][l];
                                }
                                float *dst = out + ((a * S + e) * n + tile) * K + par * C + c0;
                                for (int l = 0; l < w; l++) dst[l] = acc[l];
                            }
                    }
                }
            }
        }
    return 0;
}

/* The adjoint of input_points: points (25, B * NT * NT, 4C) -> dx (B, H, H, C), each
 * value the sum over the tiles that hold it of sum over (a, b) of bt[a][i] bt[b][j]
 * points[a * 5 + b]. One image a thread at a time, summed in a space-to-depth map of its
 * own, then cropped into dx. */
int input_points_adjoint(const float *points, float *dx, const float *bt, int64_t B,
                         int64_t H, int64_t C, int64_t NT, int nthreads) {
    const int64_t n = B * NT * NT, K = 4 * C, N = T * NT + 1;
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
            float g[P][V], m[P][V];
            for (int64_t ti = 0; ti < NT; ti++)
                for (int64_t tj = 0; tj < NT; tj++) {
                    const int64_t tile = (b * NT + ti) * NT + tj;
                    for (int64_t k0 = 0; k0 < K; k0 += V) {
                        const int64_t w = K - k0 < V ? K - k0 : V;
                        for (int a = 0; a < P; a++) {
                            const float *src = points + (a * n + tile) * K + k0;
                            for (int l = 0; l < w; l++) g[a][l] = src[l];
                            for (int l = w; l < V; l++) g[a][l] = 0.0f;
                        }
                        /* m[a][j] = sum_e bt[e][j] g[a][e]; tile[i][j] = sum_a bt[a][i] m[a][j] */
                        for (int a = 0; a < S; a++)
                            for (int j = 0; j < S; j++) {
                                float s[V] = {0};
                                for (int e = 0; e < S; e++) {
                                    const float f = bt[e * S + j];
#pragma omp simd
                                    for (int l = 0; l < V; l++) s[l] += f * g[a * S + e][l];
                                }
                                memcpy(m[a * S + j], s, sizeof s);
                            }
                        for (int i = 0; i < S; i++)
                            for (int j = 0; j < S; j++) {
                                float s[V] = {0};
                                for (int a = 0; a < S; a++) {
                                    const float f = bt[a * S + i];
#pragma omp simd
                                    for (int l = 0; l < V; l++) s[l] += f * m[a * S + j][l];
                                }
                                float *dst = acc + ((T * ti + i) * N + T * tj + j) * K + k0;
                                for (int l = 0; l < w; l++) dst[l] += s[l];
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
int output_tiles(const float *products, float *out, const float *at, int64_t B, int64_t H,
                 int64_t O, int64_t NT, int nthreads) {
    const int64_t n = B * NT * NT;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t tile = 0; tile < n; tile++) {
        const int64_t b = tile / (NT * NT), ti = tile / NT % NT, tj = tile % NT;
        float m[P][V], h[T * S][V];
        for (int64_t o0 = 0; o0 < O; o0 += V) {
            const int64_t w = O - o0 < V ? O - o0 : V;
            for (int a = 0; a < P; a++) {
                const float *src = products + (a * n + tile) * O + o0;
                for (int l = 0; l < w; l++) m[a][l] = src[l];
                for (int l = w; l < V; l++) m[a][l] = 0.0f;
            }
            for (int y = 0; y < T; y++) /* h[y][e] = sum_a at[y][a] m[a][e] */
                for (int e = 0; e < S; e++) {
                    float s[V] = {0};
                    for (int a = 0; a < S; a++) {
                        const float f = at[y * S + a];
#pragma omp simd
                        for (int l = 0; l < V; l++) s[l] += f * m[a * S + e][l];
                    }
                    memcpy(h[y * S + e], s, sizeof s);
                }
            for (int y = 0; y < T; y++) {
                const int64_t r = T * ti + y;
                if (r >= H) break;
                for (int x = 0; x < T; x++) {
                    const int64_t c = T * tj + x;
                    if (c >= H) break;
                    float s[V] = {0};
                    for (int e = 0; e < S; e++) {
                        const float f = at[x * S + e];
#pragma omp simd
                        for (int l = 0; l < V; l++) s[l] += f * h[y * S + e][l];
                    }
                    float *dst = out + ((b * H + r) * H + c) * O + o0;
                    for (int l = 0; l < w; l++) dst[l] = s[l];
                }
            }
        }
    }
    return 0;
}

/* The adjoint of output_tiles: grad (B, H, H, O) -> points (25, B * NT * NT, O), each
 * tile's A g A^T, zero taken past the map's edge. */
int output_tiles_adjoint(const float *grad, float *points, const float *at, int64_t B,
                         int64_t H, int64_t O, int64_t NT, int nthreads) {
    const int64_t n = B * NT * NT;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t tile = 0; tile < n; tile++) {
        const int64_t b = tile / (NT * NT), ti = tile / NT % NT, tj = tile % NT;
        float g[T * T][V], h[S * T][V];
        for (int64_t o0 = 0; o0 < O; o0 += V) {
            const int64_t w = O - o0 < V ? O - o0 : V;
            for (int y = 0; y < T; y++)
                for (int x = 0; x < T; x++) {
                    const int64_t r = T * ti + y, c = T * tj + x;
                    float *dst = g[y * T + x];
                    if (r >= H || c >= H) {
                        memset(dst, 0, sizeof(float) * V);
                        continue;
                    }
                    const float *src = grad + ((b * H + r) * H + c) * O + o0;
                    for (int l = 0; l < w; l++) dst[l] = src[l];
                    for (int l = w; l < V; l++) dst[l] = 0.0f;
                }
            for (int a = 0; a < S; a++) /* h[a][x] = sum_y at[y][a] g[y][x] */
                for (int x = 0; x < T; x++) {
                    float s[V] = {0};
                    for (int y = 0; y < T; y++) {
                        const float f = at[y * S + a];
#pragma omp simd
                        for (int l = 0; l < V; l++) s[l] += f * g[y * T + x][l];
                    }
                    memcpy(h[a * T + x], s, sizeof s);
                }
            for (int a = 0; a < S; a++)
                for (int e = 0; e < S; e++) {
                    float s[V] = {0};
                    for (int x = 0; x < T; x++) {
                        const float f = at[x * S + e];
#pragma omp simd
                        for (int l = 0; l < V; l++) s[l] += f * h[a * T + x][l];
                    }
                    float *dst = points + ((a * S + e) * n + tile) * O + o0;
                    for (int l = 0; l < w; l++) dst[l] = s[l];
                }
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
