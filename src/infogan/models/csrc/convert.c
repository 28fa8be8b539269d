/* float32 <-> bfloat16 over n values in any dense layout: the casts of a bf16 step's weights
 * (to bfloat16, once between updates) and of their gradients (back to float32, once a
 * pass). PyTorch 2.13 rounds each bfloat16 in several integer instructions; the CPU's own
 * conversion (AVX512-BF16) gives the same bits (to nearest even) in one. models/cast.py
 * calls them. */
#include "vectors.h"

int to_bfloat16(const float *x, bf16 *y, int64_t n, int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes(i, n);
        store16(y + i, _mm512_maskz_loadu_ps(m, x + i), m);
    }
    return 0;
}

int to_float32(const bf16 *x, float *y, int64_t n, int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes(i, n);
        _mm512_mask_storeu_ps(y + i, m, load16(x + i, m));
    }
    return 0;
}
