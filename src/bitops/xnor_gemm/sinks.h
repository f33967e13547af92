// The epilogues of the xnor_gemm family, handed each tile's dot products:
// int32 stores (xnor_gemm, xnor_gemm_masked) and the fused binary layer's
// compare-and-pack into sign bits (xnor_gemm_threshold). The AVX2 tile hands
// them one int64 at a time, put(i, j, dot); the AVX-512 tile a row of 8 in a
// register, put<NR>(i, dots), where one vpcmpq pair against the 8 thresholds,
// the flip bits selecting which comparison holds, makes the output byte (no
// int32 array is ever written).
#pragma once

#include <cstdint>

#include "../bits.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace pbn {
namespace {

struct Int32Sink {
  std::int32_t* c;
  std::size_t ldc;
  Int32Sink at(std::size_t i, std::size_t j) const { return {c + i * ldc + j, ldc}; }
  PBN_INLINE void put(int i, int j, std::int64_t dot) const { c[i * ldc + j] = std::int32_t(dot); }
#if defined(__AVX512F__)
  template <int NR>
  PBN_INLINE void put(int i, __m512i dot) const {
    _mm256_mask_storeu_epi32(c + i * ldc, __mmask8((1u << NR) - 1), _mm512_cvtepi64_epi32(dot));
  }
#endif
};

// Output bit j of row i is 1 (-1) where (flip bit j ? dot > t[j] : dot < t[j]);
// the rows must start zeroed. `col` is the sink's first output column (the
// AVX-512 loop nest starts tiles at multiples of 8: a tile row is one byte).
// The one-at-a-time put ORs into words, not bytes: a byte store may alias
// anything, and GCC then reloads the tile's operands after every output
// (measured 13% on AVX2 xnor_gemm_threshold).
struct BitsSink {
  word_t* c;        // word 0 of row 0
  std::size_t ldc;  // row stride in words
  std::size_t col;
  const std::int32_t* thresholds;
  const word_t* flips;
  static BitsSink of(word_t* c, std::size_t ldc, const std::int32_t* thresholds, const word_t* flips) {
    return {c, ldc, 0, thresholds, flips};
  }
  BitsSink at(std::size_t i, std::size_t j) const { return {c + i * ldc, ldc, col + j, thresholds, flips}; }
  PBN_INLINE void put(int i, int j, std::int64_t dot) const {
    const std::size_t n = col + std::size_t(j);
    const bool flip = (flips[n / 64] >> (n % 64)) & 1;
    const bool negative = flip ? dot > thresholds[n] : dot < thresholds[n];
    c[i * ldc + n / 64] |= word_t(negative) << (n % 64);
  }
#if defined(__AVX512F__)
  template <int NR>
  PBN_INLINE void put(int i, __m512i dot) const {
    const __mmask8 lanes = __mmask8((1u << NR) - 1);
    const __m512i t = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(lanes, thresholds + col));
    const __mmask8 flip = __mmask8(reinterpret_cast<const std::uint8_t*>(flips)[col / 8]);
    const __mmask8 lt = _mm512_mask_cmplt_epi64_mask(lanes, dot, t);
    const __mmask8 gt = _mm512_mask_cmpgt_epi64_mask(lanes, dot, t);
    reinterpret_cast<std::uint8_t*>(c + i * ldc)[col / 8] = std::uint8_t((lt & ~flip) | (gt & flip));
  }
#endif
};

}  // namespace
}  // namespace pbn
