// AVX2: y[i, j] = rowsum(x_i) - 2 * sum_{bit=1} x[i, c]. A byte of sign bits
// becomes an 8-lane mask by table lookup (avx2_masks.h); "add x where
// negative" is an and + an add. MR x NR = 2 x 4 accumulators (16 ymm
// registers). Non-finite rows are redone in exact order (weight_matmul_fixup.h).
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

template <int MR>
void row_sums(const float* x, std::size_t ldx, std::size_t k, float* out) {
  __m256 acc[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
  for (std::size_t c = 0; c < k; c += 8)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = _mm256_add_ps(acc[i], load_x(x + i * ldx + c, k - c));
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) out[i] = hsum(acc[i]);
}

template <int MR, int NR>
void tile(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y, std::size_t ldy,
          std::size_t k, const float* sums) {
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
      const __m256 m = byte_mask(bits_byte(s + j * lds, t));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_add_ps(acc[i][j], _mm256_and_ps(m, vx[i]));
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      const float neg = hsum(acc[i][j]);
      y[i * ldy + j] = sums[i] - (neg + neg);
    }
}

template <int MR>
void row_panel(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y, std::size_t ldy,
               std::size_t n, std::size_t k) {
  float sums[MR];
  row_sums<MR>(x, ldx, k, sums);
  std::size_t j = 0;
  for (; j + kNR <= n; j += kNR) tile<MR, kNR>(x, ldx, s + j * lds, lds, y + j, ldy, k, sums);
  s += j * lds;
  y += j;
  switch (n - j) {
    case 3: tile<MR, 3>(x, ldx, s, lds, y, ldy, k, sums); break;
    case 2: tile<MR, 2>(x, ldx, s, lds, y, ldy, k, sums); break;
    case 1: tile<MR, 1>(x, ldx, s, lds, y, ldy, k, sums); break;
    default: break;
  }
}

}  // namespace

void binary_weight_matmul__avx2(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR) row_panel<kMR>(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, n, k);
  if (i < m) row_panel<1>(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, n, k);
  fix_nonfinite_forward(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
