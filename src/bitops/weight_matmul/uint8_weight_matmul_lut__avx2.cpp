// uint8_weight_matmul on AVX2 by subset-sum tables of two pixel rows at once.
//
// y[i, j] = sum(p_i) - 2 * sum_{bit=1} p_i[c], exact in integers. vpermd picks
// one of 8 dwords per lane, so a table covers 3 columns (8 subset sums, as the
// float kernel's, binary_weight_matmul_lut__avx2.cpp), and each dword entry
// holds the sums of two rows of pixels, one per 16-bit half: one permute and
// one vpaddw count 3 columns x 8 weight rows x 2 pixel rows, where the masked
// adds (uint8_weight_matmul__avx2.cpp) need 4 ops per 16 weight rows and column.
// The halves never carry into each other: a sum of at most 256 columns is
// <= 256 * 255 < 2**16, so they widen to int32 once per block of 256 columns.
// The weight bits come from the 16-bit panels (pixel_panels): two chunks of 16
// columns make a row's dword; 8 rows' dwords side by side are the lookup index.
#include <immintrin.h>

#include "../kernels.h"

namespace pbn {
namespace {

constexpr std::size_t kBlockK = 256;  // columns per block: 8 dwords, 16-bit sums of at most 256 * 255
constexpr std::size_t kGroups = 11;   // tables per dword: 10 of 3 columns, 1 of 2
constexpr std::size_t kPairTable = kBlockK / 32 * kGroups * 8;  // dwords of one row pair's tables (2.75 KiB)
constexpr int kPairs = 2;             // row pairs per panel (4 rows of x)

// tables[8 * (kGroups * d + h) + e]: the sums over the columns 32d + 3h + l (l < 3, bit l of e
// set, within `cols`) of row x0 (low 16 bits) and x1 (high 16 bits; x1 may be null: zero).
void build_pair_tables(const std::uint8_t* x0, const std::uint8_t* x1, std::size_t cols, std::int32_t* tables) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i has[3];  // all-ones lanes whose entry takes column l
  for (int l = 0; l < 3; ++l)
    has[l] = _mm256_cmpeq_epi32(_mm256_and_si256(lanes, _mm256_set1_epi32(1 << l)), _mm256_set1_epi32(1 << l));
  const std::size_t dwords = (cols + 31) / 32;
  for (std::size_t d = 0; d < dwords; ++d)
    for (std::size_t h = 0; h < kGroups; ++h) {
      const std::size_t c0 = 32 * d + 3 * h, width = h + 1 < kGroups ? 3 : 2;
      __m256i t = _mm256_setzero_si256();
      for (std::size_t l = 0; l < width && c0 + l < cols; ++l) {
        const int pair = int(x0[c0 + l]) | (x1 ? int(x1[c0 + l]) << 16 : 0);
        t = _mm256_add_epi32(t, _mm256_and_si256(_mm256_set1_epi32(pair), has[l]));
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(tables + 8 * (kGroups * d + h)), t);
    }
}

// Lane j: the 32 bits of weight row j's columns 32 * dword_index ... (two 16-bit chunks).
PBN_INLINE __m256i row_dwords(const std::uint16_t* chunk_rows, std::size_t q, std::size_t chunks) {
  const __m256i lo = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(chunk_rows + q * 32)));
  if (q + 1 >= chunks) return lo;
  const __m256i hi =
      _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(chunk_rows + (q + 1) * 32)));
  return _mm256_or_si256(lo, _mm256_slli_epi32(hi, 16));
}

// neg[pair][half][lane] (int32) = the sums over the set bits of the 8 weight rows whose
// 16-bit panel rows start at chunk_rows, for the block of `cols` columns at chunk q0.
template <int P>
PBN_INLINE void lut_block(const std::int32_t* tables, const std::uint16_t* chunk_rows, std::size_t q0,
                          std::size_t chunks, std::size_t cols, __m256i (&neg)[kPairs][2]) {
  const std::size_t dwords = (cols + 31) / 32;
  __m256i acc[P];
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p) acc[p] = _mm256_setzero_si256();
#pragma GCC unroll 1
  for (std::size_t d = 0; d < dwords; ++d) {
    __m256i idx = row_dwords(chunk_rows, q0 + 2 * d, chunks);
#pragma GCC unroll 11
    for (int h = 0; h < int(kGroups); ++h) {
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) {
        const __m256i t =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(tables + p * kPairTable + 8 * (kGroups * d + h)));
        acc[p] = _mm256_add_epi16(acc[p], _mm256_permutevar8x32_epi32(t, idx));
      }
      idx = _mm256_srli_epi32(idx, 3);
    }
  }
  const __m256i low16 = _mm256_set1_epi32(0xffff);
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p) {
    neg[p][0] = _mm256_and_si256(acc[p], low16);
    neg[p][1] = _mm256_srli_epi32(acc[p], 16);
  }
}

// Rows i .. i + rows - 1 (rows <= 2 * P) of y, the K blocks outer so that each block's
// tables are built once and stay in L1 while the weight rows stream past.
template <int P>
void pair_panel(const std::uint8_t* x, std::size_t ldx, std::size_t rows, const std::uint16_t* panels,
                std::size_t chunks, std::int32_t* y, std::size_t ldy, std::size_t n, std::size_t k) {
  alignas(32) std::int32_t tables[P][kPairTable];
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n; ++j) y[r * ldy + j] = 0;
  for (std::size_t c0 = 0; c0 < k; c0 += kBlockK) {
    const std::size_t cols = min_sz(k - c0, kBlockK);
    for (int p = 0; p < P; ++p) {
      const std::size_t r0 = 2 * std::size_t(p);
      const std::uint8_t* x1 = r0 + 1 < rows ? x + (r0 + 1) * ldx + c0 : nullptr;
      build_pair_tables(x + r0 * ldx + c0, x1, cols, tables[p]);
    }
    for (std::size_t j = 0; j < n; j += 8) {
      __m256i neg[kPairs][2];
      lut_block<P>(tables[0], panels + (j / 32) * chunks * 32 + j % 32, c0 / 16, chunks, cols, neg);
      const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(min_sz(n - j, std::size_t(8)))),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      for (std::size_t r = 0; r < rows; ++r) {
        int* out = reinterpret_cast<int*>(y + r * ldy + j);
        _mm256_maskstore_epi32(out, live, _mm256_add_epi32(_mm256_maskload_epi32(out, live), neg[r / 2][r % 2]));
      }
    }
  }
  for (std::size_t r = 0; r < rows; ++r) {
    std::int32_t total = 0;
    for (std::size_t c = 0; c < k; ++c) total += x[r * ldx + c];
    for (std::size_t j = 0; j < n; ++j)  // in uint32: 2 * neg may pass 2**31 where the result still fits
      y[r * ldy + j] = std::int32_t(std::uint32_t(total) - 2u * std::uint32_t(y[r * ldy + j]));
  }
}

}  // namespace

void uint8_weight_matmul_lut__avx2(const std::uint8_t* x, std::size_t ldx, const std::uint16_t* panels,
                                   std::size_t chunks, std::int32_t* y, std::size_t ldy, std::size_t m, std::size_t n,
                                   std::size_t k) {
  for (std::size_t i = 0; i < m; i += 2 * kPairs) {
    const std::size_t rows = min_sz(m - i, std::size_t(2 * kPairs));
    if (rows > 2)
      pair_panel<kPairs>(x + i * ldx, ldx, rows, panels, chunks, y + i * ldy, ldy, n, k);
    else
      pair_panel<1>(x + i * ldx, ldx, rows, panels, chunks, y + i * ldy, ldy, n, k);
  }
}

}  // namespace pbn
