// AVX-512: z[i, c] = G_i - 2 * sum_{j: bit(j, c)=1} g[i, j], G_i = sum_j g[i, j].
// Lanes run along K, so the sign bits of weight row j for 16 columns are one
// mask register and drive a merge-masked add of the broadcast g[i, j]: no
// transposed copy of W and no multiply. An MR x NR = 4 x 6 tile (4 rows of g,
// 96 columns of K) keeps 24 accumulators in registers; per weight row j, 4
// broadcasts + 6 mask loads feed 24 adds. Non-finite rows are redone in exact
// order (weight_matmul_fixup.h).
#include <immintrin.h>

#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 6;  // 16-column chunks of K per tile

PBN_INLINE __mmask16 mask_chunk(const word_t* row, std::size_t t) {
  return _load_mask16(const_cast<__mmask16*>(reinterpret_cast<const __mmask16*>(row)) + t);
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

// Columns [16 * t0, 16 * t0 + cols) of z for MR rows; cols <= 16 * NR.
template <int MR, int NR>
void tile(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z, std::size_t ldz,
          std::size_t n, std::size_t t0, std::size_t cols, const float* sums) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[i][t] = _mm512_setzero_ps();
  for (std::size_t j = 0; j < n; ++j) {
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
      const __m512 v = _mm512_sub_ps(total, _mm512_add_ps(acc[i][t], acc[i][t]));
      const std::size_t c = 16 * std::size_t(t);
      if (c + 16 <= cols)
        _mm512_storeu_ps(z + i * ldz + 16 * t0 + c, v);
      else if (c < cols)
        _mm512_mask_storeu_ps(z + i * ldz + 16 * t0 + c, __mmask16((1u << (cols - c)) - 1), v);
    }
  }
}

template <int MR>
void row_panel(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z, std::size_t ldz,
               std::size_t n, std::size_t k) {
  float sums[MR];
  row_sums<MR>(g, ldg, n, sums);
  std::size_t t0 = 0;
  for (; 16 * (t0 + kNR) <= k; t0 += kNR) tile<MR, kNR>(g, ldg, s, lds, z, ldz, n, t0, 16 * kNR, sums);
  const std::size_t cols = k - 16 * t0;
  switch ((cols + 15) / 16) {
    case 6: tile<MR, 6>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    case 5: tile<MR, 5>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    case 4: tile<MR, 4>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    case 3: tile<MR, 3>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    case 2: tile<MR, 2>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    case 1: tile<MR, 1>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    default: break;
  }
}

}  // namespace

void binary_weight_matmul_t__avx512(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                    std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
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
