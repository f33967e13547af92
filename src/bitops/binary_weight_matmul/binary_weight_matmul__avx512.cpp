// AVX-512: y[i, j] = rowsum(x_i) - 2 * sum_{bit=1} x[i, c]. The 16 sign bits of
// a weight row for 16 columns of K are loaded straight into a mask register
// and drive one merge-masked add per 16 lanes (same issue rate as an FMA; no
// multiply). An MR x NR = 4 x 6 tile keeps 24 accumulators, 4 x vectors and 6
// masks in registers: per 16 columns of K, 4 loads + 6 mask loads feed 24
// adds. The row sums are computed once per row panel; non-finite rows are
// redone in exact order (weight_matmul_fixup.h).
#include <immintrin.h>

#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 6;

// 16 packed bits straight from memory into a mask register. GCC compiles
// _load_mask16 to movzx + kmovw k, r32, and that kmov takes port 5, one of the
// two ports the adds need; "kmovw k, m16" is a pure load.
PBN_INLINE __mmask16 mask_chunk(const word_t* row, std::size_t t) {
  __mmask16 m;
  asm("kmovw %1, %0" : "=k"(m) : "m"(reinterpret_cast<const std::uint16_t*>(row)[t]));
  return m;
}

PBN_INLINE __mmask16 tail_mask(std::size_t k) {
  return (k % 16) ? __mmask16((1u << (k % 16)) - 1) : __mmask16(0xFFFF);
}

template <int MR>
void row_sums(const float* x, std::size_t ldx, std::size_t k, float* out) {
  __m512 acc[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  std::size_t c = 0;
  for (; c + 16 <= k; c += 16)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_add_ps(acc[i], _mm512_loadu_ps(x + i * ldx + c));
  if (c < k)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_add_ps(acc[i], _mm512_maskz_loadu_ps(tail_mask(k), x + i * ldx + c));
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) out[i] = _mm512_reduce_add_ps(acc[i]);
}

template <int MR, int NR, bool kTail>
PBN_INLINE void step(__m512 (&acc)[MR][NR], const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                     std::size_t t, __mmask16 xmask) {
  __m512 vx[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
    vx[i] = kTail ? _mm512_maskz_loadu_ps(xmask, x + i * ldx + 16 * t) : _mm512_loadu_ps(x + i * ldx + 16 * t);
#pragma GCC unroll 16
  for (int j = 0; j < NR; ++j) {
    const __mmask16 m = mask_chunk(s + j * lds, t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_mask_add_ps(acc[i][j], m, acc[i][j], vx[i]);
  }
}

template <int MR, int NR>
void tile(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y, std::size_t ldy,
          std::size_t k, const float* sums) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  const std::size_t full = k / 16;
  for (std::size_t t = 0; t < full; ++t) step<MR, NR, false>(acc, x, ldx, s, lds, t, 0xFFFF);
  if (k % 16) step<MR, NR, true>(acc, x, ldx, s, lds, full, tail_mask(k));
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j) {
      const float neg = _mm512_reduce_add_ps(acc[i][j]);
      y[i * ldy + j] = sums[i] - (neg + neg);
    }
}

template <int MR>
void row_panel(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y, std::size_t ldy,
               std::size_t n, std::size_t k) {
  float sums[MR];
  row_sums<MR>(x, ldx, k, sums);
  std::size_t j = 0;
  // One row has only NR accumulator chains: 12 of them hide the 4-cycle add
  // latency at 2 adds per cycle, where 6 would halve the speed of batch-1 calls.
  if (MR == 1)
    for (; j + 2 * kNR <= n; j += 2 * kNR) tile<MR, 2 * kNR>(x, ldx, s + j * lds, lds, y + j, ldy, k, sums);
  for (; j + kNR <= n; j += kNR) tile<MR, kNR>(x, ldx, s + j * lds, lds, y + j, ldy, k, sums);
  s += j * lds;
  y += j;
  switch (n - j) {
    case 5: tile<MR, 5>(x, ldx, s, lds, y, ldy, k, sums); break;
    case 4: tile<MR, 4>(x, ldx, s, lds, y, ldy, k, sums); break;
    case 3: tile<MR, 3>(x, ldx, s, lds, y, ldy, k, sums); break;
    case 2: tile<MR, 2>(x, ldx, s, lds, y, ldy, k, sums); break;
    case 1: tile<MR, 1>(x, ldx, s, lds, y, ldy, k, sums); break;
    default: break;
  }
}

}  // namespace

void binary_weight_matmul__avx512(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                  std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR) row_panel<kMR>(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, n, k);
  switch (m - i) {
    case 3: row_panel<3>(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, n, k); break;
    case 2: row_panel<2>(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, n, k); break;
    case 1: row_panel<1>(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, n, k); break;
    default: break;
  }
  fix_nonfinite_forward(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
