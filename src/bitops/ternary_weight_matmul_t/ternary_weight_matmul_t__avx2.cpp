// AVX2: z[i, c] = sum over rows j with weight +1 at c of g[i, j] minus the sum
// over rows with -1. Lanes run along K; bytes of the +1 and -1 bits of weight
// row j become 8-lane masks by table lookup (avx2_masks.h) that select the
// broadcast g[i, j] for an add and a subtract. No multiply. MR x NR = 2 x 4.
#include "../avx2_masks.h"
#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

constexpr int kMR = 2;
constexpr int kNR = 4;  // 8-column chunks of K per tile

template <int MR, int NR>
void tile(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz,
          float* z, std::size_t ldz, std::size_t n, std::size_t t0, std::size_t cols) {
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
      const unsigned neg_bits = bits_byte(s + j * lds, t0 + t);
      const __m256 neg = byte_mask(neg_bits);
      const __m256 pos = byte_mask(bits_byte(nz + j * ldnz, t0 + t) & ~neg_bits);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        acc[i][t] = _mm256_add_ps(acc[i][t], _mm256_and_ps(pos, vg[i]));
        acc[i][t] = _mm256_sub_ps(acc[i][t], _mm256_and_ps(neg, vg[i]));
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const std::size_t c = 8 * std::size_t(t);
      float* dst = z + i * ldz + 8 * t0 + c;
      if (c + 8 <= cols)
        _mm256_storeu_ps(dst, acc[i][t]);
      else if (c < cols)
        _mm256_maskstore_ps(dst, prefix_mask(cols - c), acc[i][t]);
    }
}

template <int MR>
void row_panel(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, const word_t* nz,
               std::size_t ldnz, float* z, std::size_t ldz, std::size_t n, std::size_t k) {
  std::size_t t0 = 0;
  for (; 8 * (t0 + kNR) <= k; t0 += kNR) tile<MR, kNR>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, 8 * kNR);
  const std::size_t cols = k - 8 * t0;
  switch ((cols + 7) / 8) {
    case 4: tile<MR, 4>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, cols); break;
    case 3: tile<MR, 3>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, cols); break;
    case 2: tile<MR, 2>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, cols); break;
    case 1: tile<MR, 1>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, cols); break;
    default: break;
  }
}

}  // namespace

void ternary_weight_matmul_t__avx2(const float* g, std::size_t ldg, const word_t* s, std::size_t lds,
                                   const word_t* nz, std::size_t ldnz, float* z, std::size_t ldz, std::size_t m,
                                   std::size_t n, std::size_t k) {
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR) row_panel<kMR>(g + i * ldg, ldg, s, lds, nz, ldnz, z + i * ldz, ldz, n, k);
  if (i < m) row_panel<1>(g + i * ldg, ldg, s, lds, nz, ldnz, z + i * ldz, ldz, n, k);
  fix_zero_weights_transposed(g, ldg, nz, ldnz, z, ldz, m, n, k);
}

}  // namespace pbn
