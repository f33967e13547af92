// AVX2 (no 16-bit lane permute): masked adds. For a block of 32 weight rows
// (two registers of 16 x uint16 panel lanes) and each column c, the rows whose
// bit is set (weight -1) add the pixel: and + compare make the lane mask, and
// + add accumulate in int16 (at most 8 * 16 * 255 = 32640 per 8 chunks of 16
// columns), then widen to int32. y = sum(x) - 2 * (-1 sum). ~4x slower per
// pair than the AVX-512 table kernel.
#include <immintrin.h>

#include "../kernels.h"

namespace pbn {
namespace {

constexpr std::size_t kChunksPerWiden = 8;  // 8 * 16 * 255 = 32640 < 2**15

PBN_INLINE void widen(__m256i acc, __m256i& lo, __m256i& hi) {
  lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc)));
  hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc, 1)));
}

PBN_INLINE void store_rows(std::int32_t* out, std::size_t rows, std::int32_t total, __m256i neg, std::size_t base) {
  alignas(32) std::int32_t tmp[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(tmp),
                     _mm256_sub_epi32(_mm256_set1_epi32(total), _mm256_slli_epi32(neg, 1)));
  for (std::size_t l = 0; l < 8 && base + l < rows; ++l) out[base + l] = tmp[l];
}

}  // namespace

void uint8_weight_matmul__avx2(const std::uint8_t* x, std::size_t ldx, const std::uint16_t* panels,
                               std::size_t chunks, std::int32_t* y, std::size_t ldy, std::size_t m, std::size_t n,
                               std::size_t k) {
  for (std::size_t i = 0; i < m; ++i) {
    const std::uint8_t* xi = x + i * ldx;
    std::int32_t total = 0;
    for (std::size_t c = 0; c < k; ++c) total += xi[c];
    for (std::size_t r = 0; r * 32 < n; ++r) {
      const std::uint16_t* p = panels + r * chunks * 32;
      __m256i n0 = _mm256_setzero_si256(), n1 = n0, n2 = n0, n3 = n0;  // int32 sums of rows 0-7, ..., 24-31
      for (std::size_t q0 = 0; q0 < chunks; q0 += kChunksPerWiden) {
        const std::size_t q1 = q0 + kChunksPerWiden < chunks ? q0 + kChunksPerWiden : chunks;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0;  // int16 sums of rows 0-15, 16-31
        for (std::size_t q = q0; q < q1; ++q) {
          const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + q * 32));
          const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + q * 32 + 16));
          const std::size_t cols = k - 16 * q < 16 ? k - 16 * q : 16;
          for (std::size_t t = 0; t < cols; ++t) {
            const __m256i bit = _mm256_set1_epi16(short(1u << t));
            const __m256i xv = _mm256_set1_epi16(short(xi[16 * q + t]));
            a0 = _mm256_add_epi16(a0, _mm256_and_si256(_mm256_cmpeq_epi16(_mm256_and_si256(v0, bit), bit), xv));
            a1 = _mm256_add_epi16(a1, _mm256_and_si256(_mm256_cmpeq_epi16(_mm256_and_si256(v1, bit), bit), xv));
          }
        }
        widen(a0, n0, n1);
        widen(a1, n2, n3);
      }
      const std::size_t rows = n - r * 32 < 32 ? n - r * 32 : 32;
      std::int32_t* out = y + i * ldy + r * 32;
      store_rows(out, rows, total, n0, 0);
      store_rows(out, rows, total, n1, 8);
      store_rows(out, rows, total, n2, 16);
      store_rows(out, rows, total, n3, 24);
    }
  }
}

}  // namespace pbn
