/* BatchNorm (training mode) followed by ReLU or LeakyReLU, on bfloat16 or float32 rows.
 *
 * x is (R, C): R rows (batch x height x width, channels-last) of C channels, split into
 * batches ("segments") that are each normalised by their own statistics. The statistics
 * and all arithmetic are float32 (sums in double); a bfloat16 result is rounded once,
 * by the CPU's own conversion where it has AVX512-BF16. PyTorch 2.13's CPU
 * kernels round bfloat16 in several integer instructions and make a pass over memory for
 * BatchNorm and another for the activation, forward and backward; these make two
 * (statistics, then the output) each way. models/kernels.py compiles and loads them,
 * models/fused.py calls them.
 *
 * Rows are split between threads; each thread's sums are added by the calling thread.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "vectors.h"

#define CHUNK 64 /* rows summed in float32 before the sums go to double */
#define MAX_THREADS 64

/* the activation's derivative applied to the gradient, read off the output's sign */
static inline __m512 act_grad(__m512 g, __m512 y, __m512 slope) {
    __mmask16 pos = _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(pos, _mm512_mul_ps(g, slope), g);
}

typedef struct {
    /* shared */
    const void *x, *y, *gy; /* float32 or bfloat16 (f32) */
    void *out;
    int f32;
    int64_t rows, C;
    const int64_t *seg; /* nseg + 1 row offsets */
    int nseg, nthreads;
    const float *shift;         /* (nseg, C): sums are taken about it (forward) or the mean */
    const float *a, *b, *k;     /* (nseg, C) per-pass coefficients */
    float slope;
    double *sum1, *sum2; /* (nthreads, nseg, C) */
    int kind;
    int failed; /* a thread ran out of memory */
} Job;

enum { STATS, APPLY, GRAD_SUMS, GRAD_APPLY };

static int segment_of(const Job *j, int64_t r) {
    int s = 0;
    while (r >= j->seg[s + 1]) s++;
    return s;
}

/* sums of (x - shift) and (x - shift)^2 (STATS), or of gz and gz (x - shift) (GRAD_SUMS),
 * over rows [r0, r1) of one segment */
static void sums(Job *j, int s, int64_t r0, int64_t r1, double *s1, double *s2) {
    const int64_t C = j->C;
    const float *shift = j->shift + s * C;
    const __m512 slope = _mm512_set1_ps(j->slope);
    float *acc = aligned_alloc(64, sizeof(float) * 2 * ((C + 15) / 16) * 16);
    if (!acc) {
        j->failed = 1;
        return;
    }
    float *acc2 = acc + ((C + 15) / 16) * 16;
    for (int64_t start = r0; start < r1; start += CHUNK) {
        int64_t stop = start + CHUNK < r1 ? start + CHUNK : r1;
        memset(acc, 0, sizeof(float) * 2 * ((C + 15) / 16) * 16);
        for (int64_t r = start; r < stop; r++) {
            for (int64_t c = 0; c < C; c += 16) {
                __mmask16 m = lanes(c, C);
                __m512 d = _mm512_sub_ps(ld(j->x, r * C + c, m, j->f32), _mm512_maskz_loadu_ps(m, shift + c));
                __m512 p = _mm512_load_ps(acc + c), q = _mm512_load_ps(acc2 + c);
                if (j->kind == STATS) {
                    p = _mm512_add_ps(p, d);
                    q = _mm512_fmadd_ps(d, d, q);
                } else {
                    __m512 gz = act_grad(ld(j->gy, r * C + c, m, j->f32), ld(j->y, r * C + c, m, j->f32), slope);
                    p = _mm512_add_ps(p, gz);
                    q = _mm512_fmadd_ps(gz, d, q);
                }
                _mm512_store_ps(acc + c, p);
                _mm512_store_ps(acc2 + c, q);
            }
        }
        for (int64_t c = 0; c < C; c++) {
            s1[c] += acc[c];
            s2[c] += acc2[c];
        }
    }
    free(acc);
}

/* out = act(a x + b) (APPLY), or out = a gz + k x + b (GRAD_APPLY), rows [r0, r1) */
static void apply(const Job *j, int64_t r0, int64_t r1) {
    const int64_t C = j->C;
    const __m512 slope = _mm512_set1_ps(j->slope);
    int s = segment_of(j, r0);
    for (int64_t r = r0; r < r1; r++) {
        while (r >= j->seg[s + 1]) s++;
        const float *a = j->a + s * C, *b = j->b + s * C;
        for (int64_t c = 0; c < C; c += 16) {
            __mmask16 m = lanes(c, C);
            __m512 xv = ld(j->x, r * C + c, m, j->f32);
            __m512 av = _mm512_maskz_loadu_ps(m, a + c), bv = _mm512_maskz_loadu_ps(m, b + c);
            __m512 v;
            if (j->kind == APPLY) {
                __m512 z = _mm512_fmadd_ps(xv, av, bv);
                v = _mm512_max_ps(z, _mm512_mul_ps(z, slope));
            } else {
                __m512 gz = act_grad(ld(j->gy, r * C + c, m, j->f32), ld(j->y, r * C + c, m, j->f32), slope);
                __m512 kv = _mm512_maskz_loadu_ps(m, j->k + s * C + c);
                v = _mm512_fmadd_ps(gz, av, _mm512_fmadd_ps(xv, kv, bv));
            }
            st(j->out, r * C + c, v, m, j->f32);
        }
    }
}

/* thread t of n: its share of the rows, and its own sums */
static void work(Job *j, int t, int n) {
    int64_t r0 = j->rows * t / n, r1 = j->rows * (t + 1) / n;
    if (j->kind == APPLY || j->kind == GRAD_APPLY) {
        if (r0 < r1) apply(j, r0, r1);
        return;
    }
    for (int s = 0; s < j->nseg; s++) {
        int64_t lo = j->seg[s] > r0 ? j->seg[s] : r0, hi = j->seg[s + 1] < r1 ? j->seg[s + 1] : r1;
        if (lo < hi) {
            double *s1 = j->sum1 + ((int64_t)t * j->nseg + s) * j->C;
            double *s2 = j->sum2 + ((int64_t)t * j->nseg + s) * j->C;
            sums(j, s, lo, hi, s1, s2);
        }
    }
}

/* One pass over the rows on OpenMP's threads: PyTorch's own, since the library loaded
 * first gives this one its libgomp. Threads of a runtime of our own would wait for the
 * cores while PyTorch's spin after each of its parallel regions. */
static void run(Job *j, int kind) {
    j->kind = kind;
    if (kind == STATS || kind == GRAD_SUMS) {
        size_t n = (size_t)j->nthreads * j->nseg * j->C;
        memset(j->sum1, 0, n * sizeof(double));
        memset(j->sum2, 0, n * sizeof(double));
    }
#pragma omp parallel num_threads(j->nthreads)
    work(j, omp_get_thread_num(), omp_get_num_threads());
    if (kind == STATS || kind == GRAD_SUMS) {
        int64_t n = (int64_t)j->nseg * j->C;
        for (int t = 1; t < j->nthreads; t++)
            for (int64_t i = 0; i < n; i++) {
                j->sum1[i] += j->sum1[t * n + i];
                j->sum2[i] += j->sum2[t * n + i];
            }
    }
}

static int threads_for(int64_t rows, int64_t C, int nthreads) {
    if (nthreads < 1) nthreads = 1;
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    if (rows * C < 65536) nthreads = 1; /* smaller than starting a thread is worth */
    if (nthreads > rows) nthreads = rows > 0 ? (int)rows : 1;
    return nthreads;
}

/* What a forward or backward call works in: each thread's sums (nthreads, nseg, C) and
 * three (nseg, C) coefficient arrays. */
typedef struct {
    double *sum1, *sum2;
    float *f[3];
} Workspace;

static void workspace_close(Workspace *w) {
    free(w->sum1), free(w->sum2);
    for (int i = 0; i < 3; i++) free(w->f[i]);
}

/* Fits nthreads to the rows and allocates for them. Returns 0, or -1 for a shape it cannot
 * take or if memory ran out (then nothing is held). */
static int workspace_open(Workspace *w, int64_t rows, int64_t C, int nseg, int *nthreads) {
    *w = (Workspace){0};
    if (rows < 0 || C <= 0 || nseg <= 0) return -1;
    *nthreads = threads_for(rows, C, *nthreads);
    size_t n = (size_t)nseg * (size_t)C;
    w->sum1 = malloc(sizeof(double) * *nthreads * n);
    w->sum2 = malloc(sizeof(double) * *nthreads * n);
    int ok = w->sum1 && w->sum2;
    for (int i = 0; i < 3; i++) ok = (w->f[i] = malloc(sizeof(float) * n)) && ok;
    if (!ok) workspace_close(w);
    return ok ? 0 : -1;
}

/* Training-mode forward. Writes y (R, C), each segment's mean and 1 / sqrt(var + eps)
 * (nseg, C), and moves the running statistics (if not NULL) once per segment, in order,
 * as separate passes would. Returns 0, or -1 for a shape it cannot take or if memory ran out. */
int bnact_forward(const void *x, void *y, int f32, int64_t rows, int64_t C, const int64_t *seg,
                  int nseg, const float *gamma, const float *beta, float eps, float slope,
                  float momentum, float *running_mean, float *running_var, float *mean,
                  float *invstd, int nthreads) {
    Workspace w;
    if (workspace_open(&w, rows, C, nseg, &nthreads) != 0) return -1;
    double *sum1 = w.sum1, *sum2 = w.sum2;
    float *shift = w.f[0], *a = w.f[1], *b = w.f[2];
    int ok = 1;
    {
        for (int s = 0; s < nseg; s++) /* sums about a row of the data keep var exact */
            for (int64_t c = 0; c < C; c++) {
                float v;
                if (f32) {
                    v = ((const float *)x)[seg[s] * C + c];
                } else {
                    uint32_t bits = (uint32_t)((const bf16 *)x)[seg[s] * C + c] << 16;
                    memcpy(&v, &bits, sizeof v);
                }
                shift[s * C + c] = seg[s + 1] > seg[s] && isfinite(v) ? v : 0.0f;
            }
        Job j = {.x = x, .out = y, .f32 = f32, .rows = rows, .C = C, .seg = seg, .nseg = nseg,
                 .nthreads = nthreads, .shift = shift, .a = a, .b = b, .slope = slope,
                 .sum1 = sum1, .sum2 = sum2};
        run(&j, STATS);
        ok = !j.failed;
        for (int s = 0; ok && s < nseg; s++) {
            double count = (double)(seg[s + 1] - seg[s]);
            for (int64_t c = 0; c < C; c++) {
                int64_t i = s * C + c;
                double d = sum1[i] / count;
                double var = sum2[i] / count - d * d;
                if (var < 0) var = 0;
                double mu = shift[i] + d;
                double inv = 1.0 / sqrt(var + eps);
                mean[i] = (float)mu;
                invstd[i] = (float)inv;
                a[i] = (float)(gamma[c] * inv);
                b[i] = (float)(beta[c] - mu * gamma[c] * inv);
                if (running_mean) {
                    double unbiased = count > 1 ? var * count / (count - 1) : var;
                    running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
                    running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
                }
            }
        }
        if (ok) run(&j, APPLY);
    }
    workspace_close(&w);
    return ok ? 0 : -1;
}

/* Backward of bnact_forward: from the output's gradient gy, the output y and the input x,
 * writes the input's gradient gx (if not NULL) and the scale's and shift's gradients,
 * summed over the segments. Returns 0, or -1 for a shape it cannot take or if memory ran
 * out. */
int bnact_backward(const void *gy, const void *y, const void *x, void *gx, int f32, int64_t rows,
                   int64_t C, const int64_t *seg, int nseg, const float *gamma, const float *mean,
                   const float *invstd, float slope, float *grad_gamma, float *grad_beta,
                   int nthreads) {
    Workspace w;
    if (workspace_open(&w, rows, C, nseg, &nthreads) != 0) return -1;
    double *sum1 = w.sum1, *sum2 = w.sum2;
    float *a = w.f[0], *b = w.f[1], *k = w.f[2];
    int ok = 1;
    {
        Job j = {.x = x, .y = y, .gy = gy, .out = gx, .f32 = f32, .rows = rows, .C = C, .seg = seg,
                 .nseg = nseg, .nthreads = nthreads, .shift = mean, .a = a, .b = b, .k = k,
                 .slope = slope, .sum1 = sum1, .sum2 = sum2};
        run(&j, GRAD_SUMS);
        for (int64_t c = 0; c < C; c++) grad_gamma[c] = grad_beta[c] = 0;
        double *gg = calloc(C, sizeof(double)), *gb = calloc(C, sizeof(double));
        ok = gg && gb && !j.failed;
        for (int s = 0; ok && s < nseg; s++) {
            double count = (double)(seg[s + 1] - seg[s]);
            for (int64_t c = 0; c < C; c++) {
                int64_t i = s * C + c;
                double inv = invstd[i], dot = sum2[i] * inv; /* sum of gz * xhat */
                gg[c] += dot;
                gb[c] += sum1[i];
                /* gx = gamma inv (gz - sum(gz)/n - xhat sum(gz xhat)/n) = a gz + k x + b */
                double scale = gamma[c] * inv;
                double kx = -scale * inv * dot / count;
                a[i] = (float)scale;
                k[i] = (float)kx;
                b[i] = (float)(-scale * sum1[i] / count - kx * mean[i]);
            }
        }
        if (ok) {
            for (int64_t c = 0; c < C; c++) {
                grad_gamma[c] = (float)gg[c];
                grad_beta[c] = (float)gb[c];
            }
            if (gx) run(&j, GRAD_APPLY);
        }
        free(gg), free(gb);
    }
    workspace_close(&w);
    return ok ? 0 : -1;
}

/* The activation alone, y = max(x, slope x), over n values in any dense layout. */
int act_forward(const void *x, void *y, int f32, int64_t n, float slope, int nthreads) {
    const __m512 s = _mm512_set1_ps(slope);
    nthreads = threads_for(n, 1, nthreads);
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes(i, n);
        __m512 v = ld(x, i, m, f32);
        st(y, i, _mm512_max_ps(v, _mm512_mul_ps(v, s)), m, f32);
    }
    return 0;
}

/* Its backward, from the output y: gx = gy where y > 0, slope gy elsewhere. */
int act_backward(const void *gy, const void *y, void *gx, int f32, int64_t n, float slope,
                  int nthreads) {
    const __m512 s = _mm512_set1_ps(slope);
    nthreads = threads_for(n, 1, nthreads);
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes(i, n);
        st(gx, i, act_grad(ld(gy, i, m, f32), ld(y, i, m, f32), s), m, f32);
    }
    return 0;
}
