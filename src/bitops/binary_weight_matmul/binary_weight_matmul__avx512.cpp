// AVX-512: y[i, j] = rowsum(x_i) - 2 * sum_{bit=1} x[i, c]. A single row (batch
// 1) takes a table path instead (row_lut, below). The 16 sign bits of
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

constexpr std::size_t kBlockK = 512;  // weights per K block: 128 nibble tables (8 KiB)

// 16x16 transpose of 32-bit lanes.
PBN_INLINE void transpose16(__m512i (&r)[16]) {
  __m512i t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // now r[4i + c] holds, per 128-bit lane L, rows 4i..4i+3 of dword column 4L + c
  __m512i u[16];
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    // rows 0-3 (r[c]), 4-7 (r[4+c]), 8-11 (r[8+c]), 12-15 (r[12+c]); 128-bit lane L = column 4L + c
    const __m512i ab_lo = _mm512_shuffle_i32x4(r[c], r[4 + c], _MM_SHUFFLE(2, 0, 2, 0));   // cols L=0,2 of rows 0-3 | 4-7
    const __m512i ab_hi = _mm512_shuffle_i32x4(r[c], r[4 + c], _MM_SHUFFLE(3, 1, 3, 1));   // L=1,3
    const __m512i cd_lo = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i cd_hi = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], _MM_SHUFFLE(3, 1, 3, 1));
    // ab_lo lanes: [r0-3 L0, r0-3 L2, r4-7 L0, r4-7 L2]
    u[0 * 4 + c] = _mm512_shuffle_i32x4(ab_lo, cd_lo, _MM_SHUFFLE(2, 0, 2, 0));  // L0: rows 0-3,4-7,8-11,12-15
    u[2 * 4 + c] = _mm512_shuffle_i32x4(ab_lo, cd_lo, _MM_SHUFFLE(3, 1, 3, 1));  // L2
    u[1 * 4 + c] = _mm512_shuffle_i32x4(ab_hi, cd_hi, _MM_SHUFFLE(2, 0, 2, 0));  // L1
    u[3 * 4 + c] = _mm512_shuffle_i32x4(ab_hi, cd_hi, _MM_SHUFFLE(3, 1, 3, 1));  // L3
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = u[i];  // r[4L + c] = dword column 4L + c of rows 0..15
}

// tables[g] (16 floats): lane b = sum of x[4g + l] over the set bits l of b, in order l = 0..3.
// Groups past `cols` up to a whole dword of bits (8 groups) get zero tables:
// their bits are zero, and lane 0 of every table is the empty sum.
void build_tables(const float* x, std::size_t cols, float* tables) {
  const std::size_t groups = (cols + 31) / 32 * 8;
  for (std::size_t g = 0; g < groups; ++g) {
    if (4 * g >= cols) {
      _mm512_store_ps(tables + 16 * g, _mm512_setzero_ps());
      continue;
    }
    const float* p = x + 4 * g;
    const std::size_t left = cols - 4 * g;
    __m512 t = _mm512_maskz_mov_ps(0xAAAA, _mm512_set1_ps(p[0]));
    if (left > 1) t = _mm512_mask_add_ps(t, 0xCCCC, t, _mm512_set1_ps(p[1]));
    if (left > 2) t = _mm512_mask_add_ps(t, 0xF0F0, t, _mm512_set1_ps(p[2]));
    if (left > 3) t = _mm512_mask_add_ps(t, 0xFF00, t, _mm512_set1_ps(p[3]));
    _mm512_store_ps(tables + 16 * g, t);
  }
}

// neg[j] += the sum of x over the set bits of rows j < rows (<= 16), for the
// block of `cols` columns starting at word w0.
void lut_block(const float* tables, const word_t* s, std::size_t lds, std::size_t w0, std::size_t cols, std::size_t rows, float* neg) {
  const std::size_t dwords = (cols + 31) / 32;  // <= 16
  const __mmask16 dmask = __mmask16((1u << dwords) - 1);  // dwords = 16 gives 0xFFFF
  __m512i r[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i)
    r[i] = (std::size_t(i) < rows) ? _mm512_maskz_loadu_epi32(dmask, s + i * lds + w0) : _mm512_setzero_si512();
  transpose16(r);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 16
  for (int c = 0; c < 16; ++c) {
    if (std::size_t(c) >= dwords) break;
    __m512i idx = r[c];
#pragma GCC unroll 8
    for (int h = 0; h < 8; ++h) {
      const __m512 t = _mm512_load_ps(tables + 16 * (8 * c + h));
      acc[h & 3] = _mm512_add_ps(acc[h & 3], _mm512_permutexvar_ps(idx, t));
      idx = _mm512_srli_epi32(idx, 4);
    }
  }
  const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
  const __mmask16 rmask = __mmask16((1u << rows) - 1);
  _mm512_mask_storeu_ps(neg, rmask, _mm512_add_ps(_mm512_maskz_loadu_ps(rmask, neg), sum));
}

// One row of x (batch 1): the masked-add path is bound by mask loads (one
// kmov per 16 weights, ~1 per cycle). Instead, per 4 columns of x, a table of
// the 16 subset sums is built once (4 adds per 4 columns), and each nibble of
// the sign bits picks its subset sum for 16 weight rows at once with one
// vpermps (a lane permute, no arithmetic): 64 weights per permute + add. The
// bits of 16 rows are transposed in registers so that lane j holds row j.
void row_lut(const float* x, const word_t* s, std::size_t lds, float* y, std::size_t n, std::size_t k) {
  alignas(64) float tables[kBlockK / 4 * 16];
  for (std::size_t j = 0; j < n; ++j) y[j] = 0.0f;
  for (std::size_t c0 = 0; c0 < k; c0 += kBlockK) {
    const std::size_t cols = min_sz(k - c0, kBlockK);
    build_tables(x + c0, cols, tables);
    for (std::size_t j = 0; j < n; j += 16)
      lut_block(tables, s + j * lds, lds, c0 / kWordBits, cols, min_sz(n - j, 16), y + j);
  }
  float sum;
  row_sums<1>(x, 0, k, &sum);
  for (std::size_t j = 0; j < n; ++j) y[j] = sum - (y[j] + y[j]);
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
    case 1: row_lut(x + i * ldx, s, lds, y + i * ldy, n, k); break;
    default: break;
  }
  fix_nonfinite_forward(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
