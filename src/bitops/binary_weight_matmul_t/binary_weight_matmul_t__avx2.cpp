// AVX2: z[i, c] = G_i - 2 * sum_{j: bit(j, c)=1} g[i, j]. Lanes run along K; a
// byte of weight row j's sign bits becomes an 8-lane mask by table lookup
// (avx2_masks.h) and selects the broadcast g[i, j] with an and before the add.
// MR x NR = 2 x 4 accumulators (2 rows of g, 32 columns of K). Non-finite rows
// are redone in exact order (weight_matmul_fixup.h).
#include "../avx2_masks.h"
#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

constexpr int kMR = 2;
constexpr int kNR = 4;  // 8-column chunks of K per tile

template <int MR, int NR>
void tile(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z, std::size_t ldz,
          std::size_t n, std::size_t t0, std::size_t cols, const float* sums) {
  __m256 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[i][t] = _mm256_setzero_ps();
  for (std::size_t j = 0; j < n; ++j) {
    __m256 vg[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) vg[i] = _mm256_broadcast_ss(g + i * ldg + j);
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const __m256 m = byte_mask(bits_byte(s + j * lds, t0 + t));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][t] = _mm256_add_ps(acc[i][t], _mm256_and_ps(m, vg[i]));
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m256 total = _mm256_set1_ps(sums[i]);
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const __m256 v = _mm256_sub_ps(total, _mm256_add_ps(acc[i][t], acc[i][t]));
      const std::size_t c = 8 * std::size_t(t);
      float* dst = z + i * ldz + 8 * t0 + c;
      if (c + 8 <= cols)
        _mm256_storeu_ps(dst, v);
      else if (c < cols)
        _mm256_maskstore_ps(dst, prefix_mask(cols - c), v);
    }
  }
}

template <int MR>
void row_panel(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z, std::size_t ldz,
               std::size_t n, std::size_t k) {
  float sums[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float acc = 0.0f;
    for (std::size_t j = 0; j < n; ++j) acc += g[i * ldg + j];
    sums[i] = acc;
  }
  std::size_t t0 = 0;
  for (; 8 * (t0 + kNR) <= k; t0 += kNR) tile<MR, kNR>(g, ldg, s, lds, z, ldz, n, t0, 8 * kNR, sums);
  const std::size_t cols = k - 8 * t0;
  switch ((cols + 7) / 8) {
    case 4: tile<MR, 4>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    case 3: tile<MR, 3>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    case 2: tile<MR, 2>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    case 1: tile<MR, 1>(g, ldg, s, lds, z, ldz, n, t0, cols, sums); break;
    default: break;
  }
}

}  // namespace

void binary_weight_matmul_t__avx2(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                  std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR) row_panel<kMR>(g + i * ldg, ldg, s, lds, z + i * ldz, ldz, n, k);
  if (i < m) row_panel<1>(g + i * ldg, ldg, s, lds, z + i * ldz, ldz, n, k);
  fix_nonfinite_transposed(g, ldg, s, lds, z, ldz, m, n, k);
}

}  // namespace pbn
