/* bfloat16 and float32 vectors of 16 values for the kernels in this folder: loads that
 * widen bfloat16 to float32 (exact), stores that round float32 to bfloat16 (to nearest
 * even: the CPU's own instruction with AVX512-BF16, integer arithmetic without it), and
 * masks for the last, partial vector of a row. */
#ifndef INFOGAN_VECTORS_H
#define INFOGAN_VECTORS_H

#include <immintrin.h>
#include <stdint.h>

#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "needs AVX-512 (F, BW, VL)"
#endif

typedef uint16_t bf16;

static inline __m512 load16(const bf16 *p, __mmask16 m) {
    __m256i v = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

static inline void store16(bf16 *p, __m512 v, __mmask16 m) {
#ifdef __AVX512BF16__
    __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
#else /* round to nearest even in integers, NaN kept a (quiet) NaN */
    __m512i b = _mm512_castps_si512(v);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    b = _mm512_add_epi32(b, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    b = _mm512_mask_or_epi32(b, nan, _mm512_castps_si512(v), _mm512_set1_epi32(0x00400000));
    __m256i h = _mm512_cvtepi32_epi16(_mm512_srli_epi32(b, 16));
#endif
    _mm256_mask_storeu_epi16(p, m, h);
}

/* 16 values of a float32 (f32) or bfloat16 array, from index i */
static inline __m512 ld(const void *p, int64_t i, __mmask16 m, int f32) {
    return f32 ? _mm512_maskz_loadu_ps(m, (const float *)p + i) : load16((const bf16 *)p + i, m);
}

static inline void st(void *p, int64_t i, __m512 v, __mmask16 m, int f32) {
    if (f32)
        _mm512_mask_storeu_ps((float *)p + i, m, v);
    else
        store16((bf16 *)p + i, v, m);
}

static inline __mmask16 lanes(int64_t c, int64_t C) {
    int64_t left = C - c;
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

#endif
