// binary_weight_matmul on AVX-512: x @ sign(W).T by a subset-sum table kernel.
//
// y[i, j] = rowsum(x_i) - 2 * sum_{bit=1} x[i, c], with the sums over
// the -1 weights read from subset-sum tables (table_forward.h's loops over
// Avx512Tables, below): per 4 columns
// of a row of x, the 16 subset sums are built once with additions, and one
// vpermps (a lane permute) picks them for 16 weight rows at a time. That covers
// 64 weights per permute + add, where a masked add driven by the sign bits
// covers 16 (and is bound by mask loads at batch 1). Panels of MR = 4 rows of
// x share one in-register transpose of the weight bits. The row sums are
// computed once per panel (masked_add.h's row_sums); non-finite rows are
// redone in exact order (fixup.h). A model that holds its weights passes them
// transposed once (dword_panels.h: binary_weight_matmul_lut_panels__avx512),
// and the lookups read them in place of the per-call transpose.
//
// From 16 rows of x the same tables turn around (Avx512Tables::wide_panel):
// lanes hold 16 rows of x, and a weight row's nibble picks one entry for all 16
// with a plain load: 100 x 784 -> 4096 takes 2.6 ms instead of 3.2 (Zen 4, one
// thread). Same entries, same chains, same bits at every batch
// (tests/test_weight_matmul.py::test_forward_rows_do_not_depend_on_the_batch).
#include <immintrin.h>

#include "../kernels.h"
#include "../scratch.h"
#include "../simd/avx512.h"
#include "dword_panels.h"
#include "table_forward.h"

namespace pbn {
namespace {


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

// The AVX-512 table policy of table_forward.h: per 4 columns of a row of x, a
// table of its 16 subset sums is built once (4 adds per 4 columns), and each
// nibble of the sign bits picks its subset sum for 16 weight rows at once with
// one vpermps (a lane permute, no arithmetic): 64 weights per permute + add,
// where a masked add covers 16 (and batch 1 would be bound by the mask loads,
// one kmov per 16 weights at ~1 per cycle). The bits of 16 weight rows are
// transposed in registers so that lane j holds row j, once for MR rows of x.
struct Avx512Tables {
  static constexpr std::size_t kBlockK = 512;  // weights per K block: 128 nibble tables (8 KiB)
  static constexpr std::size_t kRows = 16;     // weight rows per lookup (lanes)
  // Groups of kRows weight rows per lut_block for one row of x: 2 groups took batch 1 (784 ->
  // 4096, Zen 4) from 38 to 36 us; 4 groups: 37.
  static constexpr int kOneRowGroups = 2;
  static constexpr std::size_t kTableFloats = kBlockK / 4 * 16;
  using S = Avx512;

  // tables[g] (16 floats): lane b = sum of x[4g + l] over the set bits l of b, in order l = 0..3.
  // Groups past `cols` up to a whole dword of bits (8 groups) get zero tables:
  // their bits are zero, and lane 0 of every table is the empty sum.
  static void build_tables(const float* x, std::size_t cols, float* tables) {
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

  // neg[j] += the sum of x over the set bits of rows j < rows (<= 16 G), for the
  // block of `cols` columns starting at word w0: G groups of 16 weight rows side by side, each
  // with its own chains, so that one row of x (G = kOneRowGroups) keeps more adds in flight.
  template <int MR, int G>
  static void lut_block(const float* tables, const word_t* s, std::size_t lds, std::size_t w0, std::size_t cols,
                 std::size_t rows, float* neg, std::size_t ldy) {
    const std::size_t dwords = (cols + 31) / 32;  // <= 16
    const __mmask16 dmask = __mmask16((1u << dwords) - 1);  // dwords = 16 gives 0xFFFF
    alignas(64) __m512i dcol[G][16];  // dword column c of group g's 16 rows, read back one c at a time (below)
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      __m512i r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) {
        const std::size_t row = std::size_t(16 * g + i);
        r[i] = row < rows ? _mm512_maskz_loadu_epi32(dmask, s + row * lds + w0) : _mm512_setzero_si512();
      }
      transpose16(r);
#pragma GCC unroll 16
      for (int c = 0; c < 16; ++c) dcol[g][c] = r[c];
    }
    sweep<MR, G>(tables, &dcol[0][0], 16, dwords, rows, neg, ldy);
  }

  // lut_block's lookups and adds, from the dword columns of G groups of 16 weight rows:
  // dcol[g * gstride + c] lane l = dword c (of the block) of row 16 g + l.
  template <int MR, int G>
  static PBN_INLINE void sweep(const float* tables, const __m512i* dcol, std::size_t gstride, std::size_t dwords,
                               std::size_t rows, float* neg, std::size_t ldy) {
    // Two add chains per row whatever the panel's rows: every row of every call sums in one
    // order, so a lone row (batch 1, the last of M % 4 == 1) gives the bits of a row in a panel.
    constexpr int kChains = 2;
    __m512 acc[MR][G][kChains];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g)
#pragma GCC unroll 2
        for (int q = 0; q < kChains; ++q) acc[i][g][q] = _mm512_setzero_ps();
    // A group past `rows` reads group 0's dwords (its sums are not stored): from dword panels of an
    // odd group count, the last step's second group lies past the panels.
    const __m512i* group[G];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) group[g] = dcol + (rows > std::size_t(16 * g) ? g * gstride : 0);
    // Not unrolled over c: fully unrolled (512 permutes), GCC hoisted permutes and spilled their results
    // to the stack.
#pragma GCC unroll 1
    for (std::size_t c = 0; c < dwords; ++c) {
      __m512i idx[G];
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) idx[g] = _mm512_loadu_si512(group[g] + c);
#pragma GCC unroll 8
      for (int h = 0; h < 8; ++h) {
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
          const __m512 t = _mm512_load_ps(tables + i * kTableFloats + 16 * (8 * c + h));
#pragma GCC unroll 4
          for (int g = 0; g < G; ++g)
            acc[i][g][h % kChains] = _mm512_add_ps(acc[i][g][h % kChains], _mm512_permutexvar_ps(idx[g], t));
        }
        // A rotate, not a shift: vpermps reads bits 0-3 only, and on Zen 4 the shift competed with
        // the permutes (batch 1, 784 -> 4096: 44 us with vpsrld, 38 with vprord).
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) idx[g] = _mm512_ror_epi32(idx[g], 4);
      }
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      if (rows <= std::size_t(16 * g)) break;
      const __mmask16 rmask = __mmask16((1u << min_sz(rows - 16 * g, 16)) - 1);
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        const __m512 sum = _mm512_add_ps(acc[i][g][0], acc[i][g][1]);
        float* out = neg + i * ldy + 16 * g;
        _mm512_mask_storeu_ps(out, rmask, _mm512_add_ps(_mm512_maskz_loadu_ps(rmask, out), sum));
      }
    }
  }


  // ---- Panels of 16 rows of x with lanes = rows of x (table_forward.h's wide panels) ----
  // The same tables, entries and add chains as above, so the same bits; the vector axis turns:
  // a weight row's nibble picks one entry for 16 rows of x with a plain load (no permute, no
  // transpose of the weight bits). A K block's tables for 16 rows (128 KiB) would not stay in
  // L1, so the block runs in sub-blocks of 64 columns (16 KiB of tables) and each weight row's
  // two chains wait between them in `chains`, for kChunkRows weight rows at a time (the tables
  // are rebuilt per chunk; 96 x 784 -> 4096 in one process: chunks of 4096 rows 2.29 ms, 1024
  // 2.32, 256 2.75). 8 weight rows per pass (16 chains): 12 rows ran 2.47 ms, 16 rows 2.82.
  static constexpr std::size_t kWideRows = 16;
  static constexpr std::size_t kSubCols = 64;  // one word of each weight row
  static constexpr std::size_t kChunkRows = 4096;
  static constexpr std::size_t kLaneTableFloats = kSubCols / 4 * 16 * 16;

  // tables[256 * g + 16 * e + i] = entry e of group g (build_tables) for row i of x; zero past cols.
  static void build_lane_tables(const float* x, std::size_t ldx, std::size_t cols, float* tables) {
    for (std::size_t g = 0; g < kSubCols / 4; ++g) {
      const std::size_t c0 = 4 * g;
      __m512 col[4];
      for (std::size_t l = 0; l < 4; ++l)
        if (c0 + l < cols) {
          const float* p = x + c0 + l;
          col[l] = _mm512_setr_ps(p[0], p[ldx], p[2 * ldx], p[3 * ldx], p[4 * ldx], p[5 * ldx], p[6 * ldx],
                                  p[7 * ldx], p[8 * ldx], p[9 * ldx], p[10 * ldx], p[11 * ldx], p[12 * ldx],
                                  p[13 * ldx], p[14 * ldx], p[15 * ldx]);
        }
      for (unsigned e = 0; e < 16; ++e) {
        __m512 v = (c0 < cols && (e & 1)) ? col[0] : _mm512_setzero_ps();
        for (std::size_t l = 1; l < 4 && c0 + l < cols; ++l)
          if (e & (1u << l)) v = _mm512_add_ps(v, col[l]);
        _mm512_store_ps(tables + 256 * g + 16 * e, v);
      }
    }
  }

  // chains[32 * r .. + 31] (weight row r < NJ's two chains, 16 rows of x each) += the entries
  // picked by word w of the row's bits, nibble h on chain h % 2 (as lut_block's dwords).
  template <int NJ>
  static PBN_INLINE void lane_rows(const float* tables, const word_t* s, std::size_t lds, std::size_t w,
                                   float* chains) {
    __m512 acc[NJ][2];
    word_t bits[NJ];
#pragma GCC unroll 16
    for (int r = 0; r < NJ; ++r) {
      acc[r][0] = _mm512_load_ps(chains + 32 * r);
      acc[r][1] = _mm512_load_ps(chains + 32 * r + 16);
      bits[r] = s[r * lds + w];
    }
    const char* t = reinterpret_cast<const char*>(tables);
#pragma GCC unroll 16
    for (int h = 0; h < 16; ++h)
#pragma GCC unroll 16
      for (int r = 0; r < NJ; ++r) {
        // rotate bits 4h..4h+3 to 6..9: the byte offset of the entry (64 B each)
        const unsigned rot = unsigned(4 * h + 58) % 64;  // a constant once unrolled: rorx
        const word_t off = ((bits[r] >> rot) | (bits[r] << ((64 - rot) % 64))) & 0x3C0u;
        acc[r][h % 2] = _mm512_add_ps(acc[r][h % 2], _mm512_load_ps(reinterpret_cast<const float*>(t + 1024 * h + off)));
        __asm__("" : "+v"(acc[r][h % 2]));  // GCC would regroup each chain's adds back to back
      }
#pragma GCC unroll 16
    for (int r = 0; r < NJ; ++r) {
      _mm512_store_ps(chains + 32 * r, acc[r][0]);
      _mm512_store_ps(chains + 32 * r + 16, acc[r][1]);
    }
  }

  // y (16 x n) for 16 rows of x; false (nothing written) if the scratch cannot be had.
  static bool wide_panel(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                         std::size_t ldy, std::size_t n, std::size_t k) {
    thread_local ThreadBuffer t_lanes;  // tables, chains and sums of a chunk, lanes = rows of x (scratch.h)
    const std::size_t rows = min_sz(n, kChunkRows);
    float* tables = static_cast<float*>(t_lanes.get((kLaneTableFloats + 48 * rows) * sizeof(float)));
    if (!tables) return false;
    float* chains = tables + kLaneTableFloats;  // 32 floats per weight row
    float* neg = chains + 32 * rows;             // 16 floats per weight row: y's -1 sums, transposed
    float sums[16];
    row_sums<S, 16>(x, ldx, k, sums);
    for (std::size_t j0 = 0; j0 < n; j0 += kChunkRows) {
      const std::size_t nj = min_sz(n - j0, kChunkRows);
      const word_t* sj = s + j0 * lds;
      for (std::size_t j = 0; j < 16 * nj; j += 16) _mm512_store_ps(neg + j, _mm512_setzero_ps());
      for (std::size_t c0 = 0; c0 < k; c0 += kBlockK) {
        const std::size_t cols = min_sz(k - c0, kBlockK);
        for (std::size_t j = 0; j < 32 * nj; j += 16) _mm512_store_ps(chains + j, _mm512_setzero_ps());
        for (std::size_t b0 = 0; b0 < cols; b0 += kSubCols) {
          build_lane_tables(x + c0 + b0, ldx, min_sz(cols - b0, kSubCols), tables);
          const std::size_t w = (c0 + b0) / kWordBits;
          std::size_t j = 0;
          for (; j + 8 <= nj; j += 8) lane_rows<8>(tables, sj + j * lds, lds, w, chains + 32 * j);
          with_count<7>(nj - j, [&](auto nr) {
            lane_rows<decltype(nr)::value>(tables, sj + j * lds, lds, w, chains + 32 * j);
          });
        }
        for (std::size_t j = 0; j < nj; ++j)  // the block's sum, as lut_block adds it to y
          _mm512_store_ps(neg + 16 * j, _mm512_add_ps(_mm512_load_ps(neg + 16 * j),
                                                      _mm512_add_ps(_mm512_load_ps(chains + 32 * j),
                                                                    _mm512_load_ps(chains + 32 * j + 16))));
      }
      std::size_t j = 0;
      for (; j + 16 <= nj; j += 16) {
        __m512i r[16];
#pragma GCC unroll 16
        for (int q = 0; q < 16; ++q) r[q] = _mm512_castps_si512(_mm512_load_ps(neg + 16 * (j + q)));
        transpose16(r);  // r[i] lane q: row i of x, weight row j0 + j + q
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) {
          const __m512 v = _mm512_castsi512_ps(r[i]);
          _mm512_storeu_ps(y + i * ldy + j0 + j, _mm512_sub_ps(_mm512_set1_ps(sums[i]), _mm512_add_ps(v, v)));
        }
      }
      for (; j < nj; ++j)
        for (int i = 0; i < 16; ++i) y[i * ldy + j0 + j] = sums[i] - (neg[16 * j + i] + neg[16 * j + i]);
    }
    return true;
  }
};

// The bits as dword panels made once (dword_panels.h), for table_panel: lut_block's sweep reads
// them where it would transpose 16 rows per block and call (at batch 1, 784 -> 4096, the
// transposes' 64 shuffles per 16 rows and block took the permutes' ports: 26 us against 14, Zen 5).
struct PanelBits {
  static constexpr bool kRowsOuter = true;  // a group's dwords are contiguous (table_panel)
  const std::uint32_t* p;  // dword_panels(s, lds, n, k)
  std::size_t dwords;      // per row: ceil(k / 32)

  template <int MR, int G>
  void block(const float* tables, std::size_t j, std::size_t w0, std::size_t cols, std::size_t rows, float* y,
             std::size_t ldy) const {
    const auto* group = reinterpret_cast<const __m512i*>(p + j / 16 * dwords * 16);  // j: a multiple of 16
    Avx512Tables::sweep<MR, G>(tables, group + 2 * w0, dwords, (cols + 31) / 32, rows, y, ldy);
  }
  // The block's dwords of the groups of rows [r0, r1) (at batch 1 the whole groups: one run).
  void prefetch(std::size_t r0, std::size_t r1, std::size_t w0, std::size_t cols) const {
    const std::size_t bytes = (cols + 31) / 32 * 64;
    for (std::size_t g = r0 / 16; g < (r1 + 15) / 16; ++g) {
      const char* q = reinterpret_cast<const char*>(p + (g * dwords + 2 * w0) * 16);
      for (std::size_t b = 0; b < bytes; b += 64) _mm_prefetch(q + b, _MM_HINT_T0);
    }
  }
};

}  // namespace

// y (m x n) = x (m x k) @ sign(W).T for packed rows s of W (n x k).
void binary_weight_matmul_lut__avx512(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                      std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  table_forward<Avx512Tables>(x, ldx, s, lds, y, ldy, m, n, k);
}

void binary_weight_matmul_lut_panels__avx512(const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                                             const std::uint32_t* panels, float* y, std::size_t ldy, std::size_t m,
                                             std::size_t n, std::size_t k) {
  table_forward<Avx512Tables>(x, ldx, s, lds, PanelBits{panels, (k + 31) / 32}, y, ldy, m, n, k);
}

}  // namespace pbn
