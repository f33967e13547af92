// Kernel signatures and prototypes. Kernels do no validation (the bindings
// do), take sizes in elements and row strides in elements, and work on a
// sub-range so the driver can split work across threads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bits.h"
#include "isa.h"

namespace pbn {

enum class DType : int { f32 = 0, f64 = 1, i8 = 2, i16 = 3 };

// x is C-contiguous, viewed as (outer, k, inner); out is (outer, words_for(k), inner).
// Packs outer rows [o0, o1) and inner columns [i0, i1). Returns true if a NaN was seen.
using pack_signs_fn = bool(const void* x, DType dtype, std::size_t outer, std::size_t k, std::size_t inner,
                           word_t* out, std::size_t o0, std::size_t o1, std::size_t i0, std::size_t i1);

// c[i, j] = k - 2 * popcount(a[i, :] ^ b[j, :]) for i < m, j < n, over `words` words.
using xnor_gemm_fn = void(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
                          std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k);

// Power-of-two codes (pow2/pow2_code.h has the encoding). Both work on the flat
// range [i0, i1); element i's random bit depends only on (seed, i).
// quantize_pow2 returns true if a NaN was seen; dequantize_pow2 returns true if
// an invalid code (-128) was seen (the output is then incomplete).
using quantize_pow2_fn = bool(const float* x, std::int8_t* codes, std::size_t i0, std::size_t i1, bool stochastic,
                              int lo, int hi, std::uint64_t seed);
using dequantize_pow2_fn = bool(const std::int8_t* codes, float* out, std::size_t i0, std::size_t i1);

// out[k, n] = sum over i < m of dequantize(codes[i, k]) * g[i, n] for k in [k0, k1),
// n in [n0, n1), each product exact (+-2^e * g, rounded like an IEEE multiply
// only where it under/overflows) and summed in float32 in order of i, so every
// ISA gives the same bits. A zero code contributes +0 (NaN where g is Inf/NaN).
// Codes must be valid (no -128).
using shift_matmul_fn = void(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out,
                             std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0,
                             std::size_t n1);

// Fixed point: q = g scaled by 2^frac_bits and rounded to int32. Each term is
// +-(q << e) or +-round(q / 2^-e) (rounding right shift), summed exactly in
// int32 (the caller picks frac_bits so the sums cannot overflow), then
// out = float(sum) * 2^-frac_bits.
using shift_matmul_fixed_fn = void(const std::int8_t* codes, std::size_t ldc, const std::int32_t* q, std::size_t ldq,
                                   float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1,
                                   std::size_t n0, std::size_t n1, int frac_bits);

#if defined(__x86_64__) || defined(_M_X64)
#define PBN_OP(op) op##_fn op##__scalar, op##__avx2, op##__avx512;
#else
#define PBN_OP(op) op##_fn op##__scalar;
#endif
#include "ops.inc"
#undef PBN_OP

}  // namespace pbn
