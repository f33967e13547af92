// AVX2: y[i, j] = sum over +1 weights of x[i, c] - sum over -1 weights. Bytes
// of the +1 bits (nonzero and not negative) and of the -1 bits become 8-lane
// masks by table lookup (avx2_masks.h); per 8 columns an and + add and an
// and + subtract into one accumulator. Zero weights contribute nothing; no
// multiply. MR x NR = 2 x 4 accumulators.
#include "../avx2_masks.h"
#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

constexpr int kMR = 2;
constexpr int kNR = 4;

PBN_INLINE __m256 load_x(const float* p, std::size_t valid) {
  return valid >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, prefix_mask(valid));
}

template <int MR, int NR>
void tile(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz,
          float* y, std::size_t ldy, std::size_t k) {
  __m256 acc[MR][kNR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < kNR; ++j) acc[i][j] = _mm256_setzero_ps();
  for (std::size_t t = 0; 8 * t < k; ++t) {
    __m256 vx[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) vx[i] = load_x(x + i * ldx + 8 * t, k - 8 * t);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      const unsigned neg_bits = bits_byte(s + j * lds, t);
      const __m256 neg = byte_mask(neg_bits);
      const __m256 pos = byte_mask(bits_byte(nz + j * ldnz, t) & ~neg_bits);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        acc[i][j] = _mm256_add_ps(acc[i][j], _mm256_and_ps(pos, vx[i]));
        acc[i][j] = _mm256_sub_ps(acc[i][j], _mm256_and_ps(neg, vx[i]));
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) y[i * ldy + j] = hsum(acc[i][j]);
}

#include "row_panel.h"

}  // namespace

void ternary_weight_matmul__avx2(const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                                 const word_t* nz, std::size_t ldnz, float* y, std::size_t ldy, std::size_t m,
                                 std::size_t n, std::size_t k) {
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR) row_panel<kMR>(x + i * ldx, ldx, s, lds, nz, ldnz, y + i * ldy, ldy, n, k);
  if (i < m) row_panel<1>(x + i * ldx, ldx, s, lds, nz, ldnz, y + i * ldy, ldy, n, k);
  fix_zero_weights_forward(x, ldx, nz, ldnz, y, ldy, m, n, k);
}

}  // namespace pbn
