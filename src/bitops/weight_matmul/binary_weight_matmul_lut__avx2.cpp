// binary_weight_matmul on AVX2: x @ sign(W).T by a subset-sum table kernel
// (the AVX-512 one, binary_weight_matmul_lut__avx512.cpp, with AVX2's permute).
//
// y[i, j] = rowsum(x_i) - 2 * sum_{bit=1} x[i, c]. AVX2's vpermps picks one of
// 8 floats per lane, so the tables cover 3 columns of a row of x (8 subset
// sums): each dword of 32 sign bits is 10 groups of 3 bits and one of 2 (bits
// 30-31, a table of 4 sums). vpermps reads only bits 0-2 of each index lane, so
// a group's index is the dword shifted right by 3h: one shift (shared by the
// panel's rows), one permute and one add per 3 columns x 8 weight rows, where a
// masked add (weight_matmul__avx2.cpp) covers 8 weights with a mask load, an
// and and an add. The bits of 8 weight rows are transposed in registers so that
// lane j holds row j, once for MR rows of x (the loops: table_forward.h). Row
// sums once per panel; rows with a non-finite output are redone in exact order
// (fixup.h).
//
// From 8 rows of x the same tables turn around (Avx2Tables::wide_panel): lanes
// hold 8 rows of x, and a weight row's 3 bits pick one entry for all 8 with a
// plain load, no permute: 100 x 784 -> 4096 takes 3.2-3.3 ms instead of 6.2 (Zen 4,
// one thread). Same entries, same chains, same bits: a row's sums do not depend
// on its batch (tests/test_weight_matmul.py::test_forward_rows_do_not_depend_on_the_batch).
#include <immintrin.h>

#include "../kernels.h"
#include "../scratch.h"
#include "../simd/avx2.h"
#include "table_forward.h"

namespace pbn {
namespace {

constexpr std::size_t kGroups = 11;  // tables per dword: 10 of 3 columns, 1 of 2

// 8x8 transpose of 32-bit lanes.
PBN_INLINE void transpose8(__m256i (&r)[8]) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // u[c] (c < 4): per 128-bit lane L, rows 0-3 of dword column 4L + c; u[4 + c]: rows 4-7
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
  }
}

// The AVX2 table policy of table_forward.h (the file comment above).
struct Avx2Tables {
  static constexpr std::size_t kBlockK = 256;  // columns per K block: one 8x8 transpose of dwords
  static constexpr std::size_t kRows = 8;      // weight rows per lookup (lanes)
  // Groups of kRows weight rows per lut_block for one row of x: one. Batch 1 (784 -> 4096, Zen 4)
  // took 72 us with 1 group, 71 with 2, 73 with 4 (a lut_block with the AVX-512 kernel's groups):
  // the permutes and shifts bound it, not latency, so lut_block keeps one group.
  static constexpr int kOneRowGroups = 1;
  static constexpr std::size_t kTableFloats = kBlockK / 32 * kGroups * 8;  // one row of x: 2.75 KiB
  using S = Avx2;

  // tables[8 * (kGroups * d + h) + e] = the sum of x over the columns 32d + 3h + l whose bit l
  // of e is set, added in order l = 0, 1, 2 onto x[32d + 3h] or +0, as the AVX-512 kernel's
  // masked adds do. Columns past `cols` are absent (their bits are 0).
  static void build_tables(const float* x, std::size_t cols, float* tables) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 has[3];  // all-ones lanes whose entry takes column l
    for (int l = 0; l < 3; ++l)
      has[l] = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(lanes, _mm256_set1_epi32(1 << l)),
                                                      _mm256_set1_epi32(1 << l)));
    const std::size_t dwords = (cols + 31) / 32;
    for (std::size_t d = 0; d < dwords; ++d)
      for (std::size_t h = 0; h < kGroups; ++h) {
        const std::size_t c0 = 32 * d + 3 * h, width = h + 1 < kGroups ? 3 : 2;
        __m256 t = _mm256_setzero_ps();
        if (c0 < cols) t = _mm256_and_ps(_mm256_set1_ps(x[c0]), has[0]);
        for (std::size_t l = 1; l < width && c0 + l < cols; ++l)
          t = _mm256_blendv_ps(t, _mm256_add_ps(t, _mm256_set1_ps(x[c0 + l])), has[l]);
        _mm256_store_ps(tables + 8 * (kGroups * d + h), t);
      }
  }

  // neg[j] += the sum of x over the set bits of rows j < rows (<= 8), for the block
  // of `cols` columns starting at word w0 (one group of rows: kOneRowGroups is 1).
  template <int MR, int G>
  static void lut_block(const float* tables, const word_t* s, std::size_t lds, std::size_t w0, std::size_t cols,
                 std::size_t rows, float* neg, std::size_t ldy) {
    static_assert(G == 1, "the AVX2 table kernel takes one group of weight rows per call");
    const std::size_t dwords = (cols + 31) / 32;  // <= 8
    const __m256i dmask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(dwords)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      r[i] = (std::size_t(i) < rows)
                 ? _mm256_maskload_epi32(reinterpret_cast<const int*>(s + i * lds + w0), dmask)
                 : _mm256_setzero_si256();
    transpose8(r);
    alignas(32) __m256i dcol[8];  // dword column c of the 8 rows, read back one c at a time (below)
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) dcol[c] = r[c];
    // Two add chains per row whatever the panel's rows: every row of every call sums in one
    // order, so a lone row (batch 1, the last of M % 4 == 1) gives the bits of a row in a panel.
    constexpr int kChains = 2;
    __m256 acc[MR][kChains];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int q = 0; q < kChains; ++q) acc[i][q] = _mm256_setzero_ps();
    // Not unrolled over c: fully unrolled (352 permutes), GCC hoisted permutes and spilled their results
    // to the stack (4.3 ms instead of 4.05 at 100 x 784 -> 4096).
#pragma GCC unroll 1
    for (std::size_t c = 0; c < dwords; ++c) {
      __m256i idx = _mm256_load_si256(dcol + c);
#pragma GCC unroll 11
      for (int h = 0; h < int(kGroups); ++h) {
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
          const __m256 t = _mm256_load_ps(tables + i * kTableFloats + 8 * (kGroups * c + h));
          acc[i][h % kChains] = _mm256_add_ps(acc[i][h % kChains], _mm256_permutevar8x32_ps(t, idx));
        }
        idx = _mm256_srli_epi32(idx, 3);
      }
    }
    const __m256i rmask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(rows)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m256 sum = _mm256_add_ps(acc[i][0], acc[i][1]);
      float* out = neg + i * ldy;
      _mm256_maskstore_ps(out, rmask, _mm256_add_ps(_mm256_maskload_ps(out, rmask), sum));
    }
  }

  // ---- Panels of 8 rows of x with lanes = rows of x (table_forward.h's wide panels) ----
  // The same tables, entries and add chains as above, so the same bits; only the vector axis
  // turns. A group's 3 sign bits of one weight row pick one entry for 8 rows of x at once: a
  // rotate, an and and one vaddps with its load per 3 columns x 8 rows of x, no permute and no
  // transpose of the weight bits (the permute kernel spends ~1.8 cycles per 3 columns x 8
  // weight rows; this ~0.8). 8 weight rows at a time give 16 independent add chains in the 16
  // ymm registers (4 rows: 10 % slower, 2 rows: 1.8x slower, bound by the adds' latency).
  static constexpr std::size_t kWideRows = 8;
  static constexpr std::size_t kLaneTableFloats = kBlockK / 32 * kGroups * 8 * 8;  // 22 KiB: L1

  // tables[64 * (kGroups * d + h) + 8 * e + i] = entry e of group (d, h) (build_tables) for row i.
  static void build_lane_tables(const float* x, std::size_t ldx, std::size_t cols, float* tables) {
    const std::size_t dwords = (cols + 31) / 32;
    for (std::size_t d = 0; d < dwords; ++d)
      for (std::size_t h = 0; h < kGroups; ++h) {
        const std::size_t c0 = 32 * d + 3 * h, width = h + 1 < kGroups ? 3 : 2;
        __m256 col[3];
        for (std::size_t l = 0; l < width; ++l)
          if (c0 + l < cols) {
            const float* p = x + c0 + l;
            col[l] = _mm256_setr_ps(p[0], p[ldx], p[2 * ldx], p[3 * ldx], p[4 * ldx], p[5 * ldx], p[6 * ldx],
                                    p[7 * ldx]);
          }
        float* t = tables + 64 * (kGroups * d + h);
        for (unsigned e = 0; e < 8; ++e) {
          __m256 v = (c0 < cols && (e & 1)) ? col[0] : _mm256_setzero_ps();
          for (std::size_t l = 1; l < width && c0 + l < cols; ++l)
            if (e & (1u << l)) v = _mm256_add_ps(v, col[l]);
          _mm256_store_ps(t + 8 * e, v);
        }
      }
  }

  // neg[8 * r + i] += the sum of row i of x over the set bits of weight row r < NJ in this block.
  template <int NJ>
  static PBN_INLINE void lane_rows(const float* tables, const word_t* s, std::size_t lds, std::size_t w0,
                                   std::size_t dwords, float* neg) {
    __m256 acc[NJ][2];
#pragma GCC unroll 8
    for (int r = 0; r < NJ; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
#pragma GCC unroll 1
    for (std::size_t c = 0; c < dwords; ++c) {
      std::uint32_t d[NJ];
#pragma GCC unroll 8
      for (int r = 0; r < NJ; ++r) d[r] = std::uint32_t(s[r * lds + w0 + c / 2] >> (32 * (c % 2)));
      const char* tc = reinterpret_cast<const char*>(tables + 64 * kGroups * c);
#pragma GCC unroll 11
      for (int h = 0; h < int(kGroups); ++h)
#pragma GCC unroll 8
        for (int r = 0; r < NJ; ++r) {
          // rotate bits 3h..3h+2 to 5..7: the byte offset of the entry (32 B each); the 2-bit
          // group (h = 10) keeps 2 bits, as vpermps sees them after the shift by 30
          constexpr unsigned kRot[kGroups] = {27, 30, 1, 4, 7, 10, 13, 16, 19, 22, 25};
          const std::uint32_t mask = h + 1 < int(kGroups) ? 0xE0u : 0x60u;
          const std::uint32_t off = ((d[r] >> kRot[h]) | (d[r] << ((32 - kRot[h]) % 32))) & mask;
          const __m256 t = _mm256_load_ps(reinterpret_cast<const float*>(tc + 256 * h + off));
          acc[r][h % 2] = _mm256_add_ps(acc[r][h % 2], t);
          __asm__("" : "+x"(acc[r][h % 2]));  // GCC would regroup each chain's adds back to back
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < NJ; ++r)
      _mm256_store_ps(neg + 8 * r, _mm256_add_ps(_mm256_load_ps(neg + 8 * r), _mm256_add_ps(acc[r][0], acc[r][1])));
  }

  // y (8 x n) for 8 rows of x; false (nothing written) if the scratch cannot be had. (A part
  // panel costs as much as a whole one: 1-7 rows left over take the permute kernel's panels.)
  static bool wide_panel(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                         std::size_t ldy, std::size_t n, std::size_t k) {
    thread_local ThreadBuffer t_lanes;  // the tables and the panel's sums, lanes = rows of x (scratch.h)
    float* tables = static_cast<float*>(t_lanes.get((kLaneTableFloats + 8 * n) * sizeof(float)));
    if (!tables) return false;
    float* neg = tables + kLaneTableFloats;  // neg[8 * j + i]: y's -1 sums, transposed
    for (std::size_t j = 0; j < 8 * n; j += 8) _mm256_store_ps(neg + j, _mm256_setzero_ps());
    for (std::size_t c0 = 0; c0 < k; c0 += kBlockK) {
      const std::size_t cols = min_sz(k - c0, kBlockK), dwords = (cols + 31) / 32, w0 = c0 / kWordBits;
      build_lane_tables(x + c0, ldx, cols, tables);
      std::size_t j = 0;
      for (; j + 8 <= n; j += 8) lane_rows<8>(tables, s + j * lds, lds, w0, dwords, neg + 8 * j);
      with_count<7>(n - j, [&](auto nr) {
        lane_rows<decltype(nr)::value>(tables, s + j * lds, lds, w0, dwords, neg + 8 * j);
      });
    }
    float sums[8];
    row_sums<S, 8>(x, ldx, k, sums);
    std::size_t j = 0;
    for (; j + 8 <= n; j += 8) {
      __m256i r[8];
#pragma GCC unroll 8
      for (int q = 0; q < 8; ++q) r[q] = _mm256_castps_si256(_mm256_load_ps(neg + 8 * (j + q)));
      transpose8(r);  // r[i] lane q: row i of x, weight row j + q
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m256 v = _mm256_castsi256_ps(r[i]);
        _mm256_storeu_ps(y + i * ldy + j, _mm256_sub_ps(_mm256_set1_ps(sums[i]), _mm256_add_ps(v, v)));
      }
    }
    for (; j < n; ++j)
      for (int i = 0; i < 8; ++i) y[i * ldy + j] = sums[i] - (neg[8 * j + i] + neg[8 * j + i]);
    return true;
  }
};

}  // namespace

// y (m x n) = x (m x k) @ sign(W).T for packed rows s of W (n x k).
void binary_weight_matmul_lut__avx2(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                    std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  table_forward<Avx2Tables>(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
