// AVX-512: z[i, c] = G_i - 2 * sum_{j: bit(j, c)=1} g[i, j], G_i = sum_j g[i, j].
//
// Batches of 16+ rows: the table-lookup kernel (lut.h): four weight rows per
// lookup, indexed by their sign nibbles, from a 16-entry table of signed sums.
//
// Fewer rows: merge-masked adds. Lanes run along K, so the sign bits of weight
// row j for 16 columns are one mask register that selects the broadcast
// g[i, j]. An MR x NR = 4 x 6 tile (4 rows of g, 96 columns of K) keeps 24
// accumulators in registers; per weight row j, 4 broadcasts + 6 mask loads feed
// 24 adds. Weight rows are taken in blocks of 256 so their bits stay in L1
// across tiles. Non-finite rows are redone in exact order (weight_matmul_fixup.h).
#include <immintrin.h>

#include "../kernels.h"
#include "lut.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 6;  // 16-column chunks of K per tile

// 16 packed bits straight from memory into a mask register. GCC compiles
// _load_mask16 to movzx + kmovw k, r32, and that kmov takes port 5, one of the
// two ports the adds need; "kmovw k, m16" is a pure load.
PBN_INLINE __mmask16 mask_chunk(const word_t* row, std::size_t t) {
  __mmask16 m;
  asm("kmovw %1, %0" : "=k"(m) : "m"(reinterpret_cast<const std::uint16_t*>(row)[t]));
  return m;
}

template <int MR>
void row_sums(const float* g, std::size_t ldg, std::size_t n, float* out) {
  __m512 acc[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 16 <= n; j += 16)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_add_ps(acc[i], _mm512_loadu_ps(g + i * ldg + j));
  if (j < n) {
    const __mmask16 tail = __mmask16((1u << (n - j)) - 1);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_add_ps(acc[i], _mm512_maskz_loadu_ps(tail, g + i * ldg + j));
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) out[i] = _mm512_reduce_add_ps(acc[i]);
}

PBN_INLINE __mmask16 lanes(std::size_t cols, std::size_t c) {
  return c + 16 <= cols ? __mmask16(0xFFFF) : c < cols ? __mmask16((1u << (cols - c)) - 1) : __mmask16(0);
}

// Columns [16 * t0, 16 * t0 + cols) of z for MR rows (cols <= 16 * NR), summing
// weight rows [j0, j1). Between row blocks z holds the partial sum of g over
// the -1 weights; the last block turns it into G - 2 * partial.
template <int MR, int NR>
void tile(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z, std::size_t ldz,
          std::size_t j0, std::size_t j1, bool first, bool last, std::size_t t0, std::size_t cols,
          const float* sums) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t)
      acc[i][t] = first ? _mm512_setzero_ps()
                        : _mm512_maskz_loadu_ps(lanes(cols, 16 * t), z + i * ldz + 16 * (t0 + t));
  for (std::size_t j = j0; j < j1; ++j) {
    __m512 vg[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) vg[i] = _mm512_set1_ps(g[i * ldg + j]);
    const word_t* row = s + j * lds;
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const __mmask16 m = mask_chunk(row, t0 + t);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][t] = _mm512_mask_add_ps(acc[i][t], m, acc[i][t], vg[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m512 total = _mm512_set1_ps(sums[i]);
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const __m512 v = last ? _mm512_sub_ps(total, _mm512_add_ps(acc[i][t], acc[i][t])) : acc[i][t];
      _mm512_mask_storeu_ps(z + i * ldz + 16 * (t0 + t), lanes(cols, 16 * t), v);
    }
  }
}

// Weight rows per block: the block's slice of W for a few tiles stays in L1
// (256 rows x 64 bytes = 16 KiB), instead of streaming all of W from L2 per tile.
constexpr std::size_t kRowBlock = 256;

template <int MR>
void row_panel(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z, std::size_t ldz,
               std::size_t n, std::size_t k) {
  float sums[MR];
  row_sums<MR>(g, ldg, n, sums);
  std::size_t j0 = 0;
  do {
    const std::size_t j1 = min_sz(n, j0 + kRowBlock);
    const bool first = j0 == 0, last = j1 == n;
    std::size_t t0 = 0;
    for (; 16 * (t0 + kNR) <= k; t0 += kNR)
      tile<MR, kNR>(g, ldg, s, lds, z, ldz, j0, j1, first, last, t0, 16 * kNR, sums);
    const std::size_t cols = k - 16 * t0;
    switch ((cols + 15) / 16) {
      case 6: tile<MR, 6>(g, ldg, s, lds, z, ldz, j0, j1, first, last, t0, cols, sums); break;
      case 5: tile<MR, 5>(g, ldg, s, lds, z, ldz, j0, j1, first, last, t0, cols, sums); break;
      case 4: tile<MR, 4>(g, ldg, s, lds, z, ldz, j0, j1, first, last, t0, cols, sums); break;
      case 3: tile<MR, 3>(g, ldg, s, lds, z, ldz, j0, j1, first, last, t0, cols, sums); break;
      case 2: tile<MR, 2>(g, ldg, s, lds, z, ldz, j0, j1, first, last, t0, cols, sums); break;
      case 1: tile<MR, 1>(g, ldg, s, lds, z, ldz, j0, j1, first, last, t0, cols, sums); break;
      default: break;
    }
    j0 = j1;
  } while (j0 < n);
}

constexpr std::size_t kLutMinRows = 16;

}  // namespace

void binary_weight_matmul_t__avx512(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                    std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  // With enough rows of g, building the index nibbles once pays, and the
  // table-lookup kernel (lut.h) does four terms per lookup. (The drivers never
  // split rows, so the choice, and the result, does not depend on the thread count.)
  if (m >= kLutMinRows) {
    binary_weight_matmul_t_lut__avx512(g, ldg, s, lds, z, ldz, m, n, k);
    fix_nonfinite_transposed(g, ldg, s, lds, z, ldz, m, n, k);
    return;
  }
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR) row_panel<kMR>(g + i * ldg, ldg, s, lds, z + i * ldz, ldz, n, k);
  switch (m - i) {
    case 3: row_panel<3>(g + i * ldg, ldg, s, lds, z + i * ldz, ldz, n, k); break;
    case 2: row_panel<2>(g + i * ldg, ldg, s, lds, z + i * ldz, ldz, n, k); break;
    case 1: row_panel<1>(g + i * ldg, ldg, s, lds, z + i * ldz, ldz, n, k); break;
    default: break;
  }
  fix_nonfinite_transposed(g, ldg, s, lds, z, ldz, m, n, k);
}

}  // namespace pbn
