// AVX-512: y[i, j] = sum over +1 weights of x[i, c] - sum over -1 weights, per
// 16 columns one merge-masked add (mask: nonzero and not negative) and one
// merge-masked subtract (mask: negative) into the same accumulator; lanes of
// zero weights are left untouched. No multiply. Adding and subtracting in
// place keeps Inf/NaN behaving as in the float product, except 0 * Inf = NaN,
// which fix_zero_weights_forward restores. MR x NR = 4 x 4 accumulators; a
// horizontal sum per output.
#include <immintrin.h>

#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 4;

// 16 packed bits straight from memory into a mask register. GCC compiles
// _load_mask16 to movzx + kmovw k, r32, and that kmov takes port 5, one of the
// two ports the adds need; "kmovw k, m16" is a pure load.
PBN_INLINE __mmask16 mask_chunk(const word_t* row, std::size_t t) {
  __mmask16 m;
  asm("kmovw %1, %0" : "=k"(m) : "m"(reinterpret_cast<const std::uint16_t*>(row)[t]));
  return m;
}

template <int MR, int NR, bool kTail>
PBN_INLINE void step(__m512 (&acc)[MR][kNR], const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                     const word_t* nz, std::size_t ldnz, std::size_t t, __mmask16 xmask) {
  __m512 vx[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
    vx[i] = kTail ? _mm512_maskz_loadu_ps(xmask, x + i * ldx + 16 * t) : _mm512_loadu_ps(x + i * ldx + 16 * t);
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) {
    const __mmask16 neg = mask_chunk(s + j * lds, t);
    const __mmask16 pos = _kandn_mask16(neg, mask_chunk(nz + j * ldnz, t));
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      acc[i][j] = _mm512_mask_add_ps(acc[i][j], pos, acc[i][j], vx[i]);
      acc[i][j] = _mm512_mask_sub_ps(acc[i][j], neg, acc[i][j], vx[i]);
    }
  }
}

template <int MR, int NR>
void tile(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz,
          float* y, std::size_t ldy, std::size_t k) {
  __m512 acc[MR][kNR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < kNR; ++j) acc[i][j] = _mm512_setzero_ps();
  const std::size_t full = k / 16;
  for (std::size_t t = 0; t < full; ++t) step<MR, NR, false>(acc, x, ldx, s, lds, nz, ldnz, t, 0xFFFF);
  if (k % 16) step<MR, NR, true>(acc, x, ldx, s, lds, nz, ldnz, full, __mmask16((1u << (k % 16)) - 1));
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) y[i * ldy + j] = _mm512_reduce_add_ps(acc[i][j]);
}

#include "row_panel.h"

}  // namespace

void ternary_weight_matmul__avx512(const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                                   const word_t* nz, std::size_t ldnz, float* y, std::size_t ldy, std::size_t m,
                                   std::size_t n, std::size_t k) {
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR) row_panel<kMR>(x + i * ldx, ldx, s, lds, nz, ldnz, y + i * ldy, ldy, n, k);
  switch (m - i) {
    case 3: row_panel<3>(x + i * ldx, ldx, s, lds, nz, ldnz, y + i * ldy, ldy, n, k); break;
    case 2: row_panel<2>(x + i * ldx, ldx, s, lds, nz, ldnz, y + i * ldy, ldy, n, k); break;
    case 1: row_panel<1>(x + i * ldx, ldx, s, lds, nz, ldnz, y + i * ldy, ldy, n, k); break;
    default: break;
  }
  fix_zero_weights_forward(x, ldx, nz, ldnz, y, ldy, m, n, k);
}

}  // namespace pbn
