// AVX2 micro-kernel: no vector popcount, so each byte is counted with two
// 16-entry table lookups (vpshufb on the low and high nibbles). Byte counts
// (at most 8 per step) accumulate for up to 31 steps before vpsadbw widens
// them to 64-bit lanes, so the widening costs almost nothing. MR x NR = 2 x 4
// keeps 8 byte accumulators, 2 A and 1 B register, the table and the nibble
// mask within the 16 ymm registers.
#include <immintrin.h>

#include "../kernels.h"

namespace pbn {
namespace {

constexpr int kMR = 2;
constexpr int kNR = 4;
constexpr std::size_t kMaxByteSteps = 31;  // 31 * 8 = 248 < 256
constexpr std::size_t kL2Bytes = 256 * 1024;

struct Popcnt8 {
  __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3,
                                 2, 3, 3, 4);
  __m256i low = _mm256_set1_epi8(0x0f);
  __m256i operator()(__m256i v) const {
    const __m256i lo = _mm256_and_si256(v, low);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
  }
};

inline __m256i load(const word_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

template <int MR, int NR>
void tile(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc,
          std::size_t words, std::int64_t k) {
  const Popcnt8 popcnt8;
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc[MR][NR];
  for (auto& row : acc)
    for (auto& x : row) x = zero;
  std::size_t w = 0;
  while (w + 4 <= words) {
    const std::size_t steps = min_sz((words - w) / 4, kMaxByteSteps);
    __m256i bytes[MR][NR];
    for (auto& row : bytes)
      for (auto& x : row) x = zero;
    for (std::size_t s = 0; s < steps; ++s, w += 4) {
      __m256i va[MR];
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) va[i] = load(a + i * lda + w);
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) {
        const __m256i vb = load(b + j * ldb + w);
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) bytes[i][j] = _mm256_add_epi8(bytes[i][j], popcnt8(_mm256_xor_si256(va[i], vb)));
      }
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_add_epi64(acc[i][j], _mm256_sad_epu8(bytes[i][j], zero));
  }
  std::int64_t ones[MR][NR];
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) {
      const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc[i][j]), _mm256_extracti128_si256(acc[i][j], 1));
      ones[i][j] = _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
      for (std::size_t t = w; t < words; ++t) ones[i][j] += _mm_popcnt_u64(a[i * lda + t] ^ b[j * ldb + t]);
      c[i * ldc + j] = std::int32_t(k - 2 * ones[i][j]);
    }
  }
}

template <int MR>
void row_panel(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc,
               std::size_t n, std::size_t words, std::int64_t k) {
  std::size_t j = 0;
  for (; j + kNR <= n; j += kNR) tile<MR, kNR>(a, lda, b + j * ldb, ldb, c + j, ldc, words, k);
  b += j * ldb;
  c += j;
  switch (n - j) {
    case 3: tile<MR, 3>(a, lda, b, ldb, c, ldc, words, k); break;
    case 2: tile<MR, 2>(a, lda, b, ldb, c, ldc, words, k); break;
    case 1: tile<MR, 1>(a, lda, b, ldb, c, ldc, words, k); break;
    default: break;
  }
}

}  // namespace

void xnor_gemm__avx2(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
                     std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k) {
  const std::size_t row_bytes = max_sz(words * sizeof(word_t), 1);
  const std::size_t nb = max_sz(kNR, kL2Bytes / row_bytes / kNR * kNR);
  for (std::size_t j0 = 0; j0 < n; j0 += nb) {
    const std::size_t jn = min_sz(nb, n - j0);
    std::size_t i = 0;
    for (; i + kMR <= m; i += kMR) row_panel<kMR>(a + i * lda, lda, b + j0 * ldb, ldb, c + i * ldc + j0, ldc, jn, words, k);
    if (i < m) row_panel<1>(a + i * lda, lda, b + j0 * ldb, ldb, c + i * ldc + j0, ldc, jn, words, k);
  }
}

}  // namespace pbn
