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

#if defined(__x86_64__) || defined(_M_X64)
#define PBN_OP(op) op##_fn op##__scalar, op##__avx2, op##__avx512;
#else
#define PBN_OP(op) op##_fn op##__scalar;
#endif
#include "ops.inc"
#undef PBN_OP

}  // namespace pbn
