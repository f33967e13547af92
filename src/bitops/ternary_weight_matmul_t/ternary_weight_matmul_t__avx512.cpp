// AVX-512: z[i, c] = sum over rows j with weight +1 at c of g[i, j] minus the
// sum over rows with -1. Lanes run along K: per weight row j and 16 columns,
// a merge-masked add of the broadcast g[i, j] (mask: nonzero and not negative)
// and a merge-masked subtract (mask: negative). Zero weights leave lanes
// untouched; no multiply (0 * Inf = NaN is restored by a fix-up pass). MR x NR
// = 4 x 4 accumulators (4 rows of g, 64 columns of K).
#include <immintrin.h>

#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 4;  // 16-column chunks of K per tile

// 16 packed bits straight from memory into a mask register. GCC compiles
// _load_mask16 to movzx + kmovw k, r32, and that kmov takes port 5, one of the
// two ports the adds need; "kmovw k, m16" is a pure load.
PBN_INLINE __mmask16 mask_chunk(const word_t* row, std::size_t t) {
  __mmask16 m;
  asm("kmovw %1, %0" : "=k"(m) : "m"(reinterpret_cast<const std::uint16_t*>(row)[t]));
  return m;
}

template <int MR, int NR>
void tile(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz,
          float* z, std::size_t ldz, std::size_t n, std::size_t t0, std::size_t cols) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[i][t] = _mm512_setzero_ps();
  for (std::size_t j = 0; j < n; ++j) {
    __m512 vg[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) vg[i] = _mm512_set1_ps(g[i * ldg + j]);
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const __mmask16 neg = mask_chunk(s + j * lds, t0 + t);
      const __mmask16 pos = _kandn_mask16(neg, mask_chunk(nz + j * ldnz, t0 + t));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        acc[i][t] = _mm512_mask_add_ps(acc[i][t], pos, acc[i][t], vg[i]);
        acc[i][t] = _mm512_mask_sub_ps(acc[i][t], neg, acc[i][t], vg[i]);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const std::size_t c = 16 * std::size_t(t);
      if (c + 16 <= cols)
        _mm512_storeu_ps(z + i * ldz + 16 * t0 + c, acc[i][t]);
      else if (c < cols)
        _mm512_mask_storeu_ps(z + i * ldz + 16 * t0 + c, __mmask16((1u << (cols - c)) - 1), acc[i][t]);
    }
}

template <int MR>
void row_panel(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, const word_t* nz,
               std::size_t ldnz, float* z, std::size_t ldz, std::size_t n, std::size_t k) {
  std::size_t t0 = 0;
  for (; 16 * (t0 + kNR) <= k; t0 += kNR) tile<MR, kNR>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, 16 * kNR);
  const std::size_t cols = k - 16 * t0;
  switch ((cols + 15) / 16) {
    case 4: tile<MR, 4>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, cols); break;
    case 3: tile<MR, 3>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, cols); break;
    case 2: tile<MR, 2>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, cols); break;
    case 1: tile<MR, 1>(g, ldg, s, lds, nz, ldnz, z, ldz, n, t0, cols); break;
    default: break;
  }
}

}  // namespace

void ternary_weight_matmul_t__avx512(const float* g, std::size_t ldg, const word_t* s, std::size_t lds,
                                     const word_t* nz, std::size_t ldnz, float* z, std::size_t ldz, std::size_t m,
                                     std::size_t n, std::size_t k) {
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR) row_panel<kMR>(g + i * ldg, ldg, s, lds, nz, ldnz, z + i * ldz, ldz, n, k);
  switch (m - i) {
    case 3: row_panel<3>(g + i * ldg, ldg, s, lds, nz, ldnz, z + i * ldz, ldz, n, k); break;
    case 2: row_panel<2>(g + i * ldg, ldg, s, lds, nz, ldnz, z + i * ldz, ldz, n, k); break;
    case 1: row_panel<1>(g + i * ldg, ldg, s, lds, nz, ldnz, z + i * ldz, ldz, n, k); break;
    default: break;
  }
  fix_zero_weights_transposed(g, ldg, nz, ldnz, z, ldz, m, n, k);
}

}  // namespace pbn
