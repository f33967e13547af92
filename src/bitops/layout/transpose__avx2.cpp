// The transpose on AVX2: 8x8 tiles through registers (8 row loads, unpack,
// shuffle, cross-lane permute, 8 row stores) in transpose_blocks.h's loop nest.
#include <immintrin.h>

#include "transpose_blocks.h"

namespace pbn {
namespace {

// out[j * ldo + i] = a[i * lda + j] for i, j < 8.
inline void tile8(const float* a, std::size_t lda, float* out, std::size_t ldo) {
  __m256 r[8], t[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(a + i * lda);
  // Pairs of rows interleaved by element, then by pairs of elements: in each 128-bit half h of
  // t[c + 4q], rows 4q..4q+3 of column 4h + c.
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
#pragma GCC unroll 2
  for (int q = 0; q < 2; ++q) {
    r[4 * q] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
    r[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xEE);
    r[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
    r[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xEE);
  }
  // Column c: the low halves of rows 0-3 and 4-7 (c < 4), or the high halves (c >= 4).
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    _mm256_storeu_ps(out + c * ldo, _mm256_permute2f128_ps(r[c], r[4 + c], 0x20));
    _mm256_storeu_ps(out + (4 + c) * ldo, _mm256_permute2f128_ps(r[c], r[4 + c], 0x31));
  }
}

}  // namespace

void transpose__avx2(const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t n, std::size_t i0,
                     std::size_t i1) {
  transpose_blocks<8>(a, lda, out, ldo, n, i0, i1, tile8);
}

}  // namespace pbn
