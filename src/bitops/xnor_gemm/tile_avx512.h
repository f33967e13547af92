// The AVX-512 VPOPCNTDQ micro-kernel of the xnor_gemm family (xnor_gemm,
// xnor_gemm_masked, xnor_gemm_threshold; the tile hands each row of 8 int64 dot
// products to the sink's put<NR>; cache blocking: blocked.h; the A operand:
// a_rows.h): an MR x 8 tile of
// outputs accumulates popcount(a ^ b) in 64-bit lanes over 512 bits of K per
// step (xor, vpopcntq, add: three ops per 512 bit-MACs). The masked operand
// uses one vpternlogq for (a ^ b) & m instead of the xor, so it issues the same
// three ops (plus one mask load per A row, shared by the 8 columns).
// MR x NR = 2 x 8: 16 accumulators, 2 A (+2 mask) and 1 B register; 3 x 8 (24
// accumulators) made GCC spill and ran slower. The K tail is a masked load:
// padding words read as zero, and zero XOR zero adds nothing. Each row of 8
// accumulators is reduced with a transposing add tree into one vector of 8
// sums (21 ops instead of 8 separate horizontal reductions).
#pragma once

#include <immintrin.h>

#include "a_rows.h"

namespace pbn {
namespace {

constexpr int kTileNR = 8;

PBN_INLINE __m512i reduce8(const __m512i v[8]) {
  __m512i t[4];
#pragma GCC unroll 4
  for (int p = 0; p < 4; ++p)
    t[p] = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2 * p], v[2 * p + 1]),
                            _mm512_unpackhi_epi64(v[2 * p], v[2 * p + 1]));
  __m512i u[2];
#pragma GCC unroll 2
  for (int p = 0; p < 2; ++p)
    u[p] = _mm512_add_epi64(_mm512_shuffle_i64x2(t[2 * p], t[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i64x2(t[2 * p], t[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_epi64(_mm512_shuffle_i64x2(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_i64x2(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// Every loop over the tile is fully unrolled so the accumulators stay in
// registers (GCC spills an array it cannot scalarize).
template <int MR, int NR, bool kTail, class A>
PBN_INLINE void step(__m512i (&acc)[MR][kTileNR], const A& a, std::size_t w, const word_t* b, std::size_t ldb,
                     __mmask8 mask) {
  __m512i va[MR];
  [[maybe_unused]] __m512i vm[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    va[i] = kTail ? _mm512_maskz_loadu_epi64(mask, a.a + i * a.lda + w) : _mm512_loadu_si512(a.a + i * a.lda + w);
    if constexpr (A::kMasked)
      vm[i] = kTail ? _mm512_maskz_loadu_epi64(mask, a.m + i * a.ldm + w) : _mm512_loadu_si512(a.m + i * a.ldm + w);
  }
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) {
    const __m512i vb = kTail ? _mm512_maskz_loadu_epi64(mask, b + j * ldb) : _mm512_loadu_si512(b + j * ldb);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512i x;
      if constexpr (A::kMasked) {
        x = _mm512_ternarylogic_epi64(va[i], vb, vm[i], 0x28);  // (a ^ b) & m
      } else {
        x = _mm512_xor_si512(va[i], vb);
      }
      acc[i][j] = _mm512_add_epi64(acc[i][j], _mm512_popcnt_epi64(x));
    }
  }
}

// popcount(a ^ r) over W words (a multiple of 8 known at compile time) as a tree of adds.
template <std::size_t W>
PBN_INLINE __m512i xor_count_tree(const word_t* a, const word_t* r) {
  if constexpr (W == 8) {
    return _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a), _mm512_loadu_si512(r)));
  } else {
    return _mm512_add_epi64(xor_count_tree<W / 2>(a, r), xor_count_tree<W / 2>(a + W / 2, r + W / 2));
  }
}

template <int NR, std::size_t W>
PBN_INLINE void one_row_words(__m512i (&acc)[kTileNR], const word_t* a, const word_t* b, std::size_t ldb,
                              std::size_t words) {
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) {
    prefetch_ahead(b + j * ldb, words);
    acc[j] = _mm512_add_epi64(acc[j], xor_count_tree<W>(a, b + j * ldb));
  }
}

// The tile's dot products k - 2 * popcount to the sink, a row of 8 at a time.
template <int MR, int NR, class A, class Sink>
PBN_INLINE void finish_tile(__m512i (&acc)[MR][kTileNR], const A& a, const Sink& out, std::int64_t k) {
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m512i kk = _mm512_set1_epi64(a.bias(i, k));
    out.template put<NR>(i, _mm512_sub_epi64(kk, _mm512_slli_epi64(reduce8(acc[i]), 1)));
  }
}

// NR rows of B against one row of A over its `full` whole words, when a fixed size fits; else false.
template <int NR>
PBN_INLINE bool one_row_fixed(__m512i (&acc)[kTileNR], const word_t* a, const word_t* b, std::size_t ldb,
                              std::size_t words, std::size_t full) {
  switch (full) {
    case 16: one_row_words<NR, 16>(acc, a, b, ldb, words); return true;
    case 32: one_row_words<NR, 32>(acc, a, b, ldb, words); return true;
    case 64: one_row_words<NR, 64>(acc, a, b, ldb, words); return true;
    case 128: one_row_words<NR, 128>(acc, a, b, ldb, words); return true;
    default: return false;
  }
}

struct Avx512Tile {
  static constexpr int kMR = 2;
  static constexpr int kNR = kTileNR;

  template <int MR, int NR, class A, class Sink>
  static void run(const A& a, const word_t* b, std::size_t ldb, const Sink& out, std::size_t words, std::int64_t k);
};

template <int MR, int NR, class A, class Sink>
void Avx512Tile::run(const A& a, const word_t* b, std::size_t ldb, const Sink& out, std::size_t words,
                     std::int64_t k) {
  __m512i acc[MR][kTileNR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < kTileNR; ++j) acc[i][j] = _mm512_setzero_si512();
  // The masked tail first: with it after the loop, GCC copied all 16
  // accumulators every iteration to keep them for the tail.
  const std::size_t full = words & ~std::size_t(7);
  if (full < words) step<MR, NR, true>(acc, a, full, b + full, ldb, __mmask8((1u << (words - full)) - 1));
  if constexpr (MR == 1 && A::kOneRow) {
    // One row of A in the call (batch 1, cold weights): the B rows one after another, so that the
    // loads run through memory in address order. In lockstep (8 rows 512 B apart
    // at K = 4096) the hardware prefetchers kept up with none of them: 1x4096x4096
    // from DRAM took 0.21-0.27 ms, now 0.16 (Zen 4; software prefetch changed nothing there,
    // but gains 30 % on Zen 5: prefetch_ahead, a_rows.h).
    // Rows of 16, 32, 64 or 128 whole words (K 1024 ... 8192, the papers' wide layers): straight-line
    // code, no loop per row. 1x4096x4096 from L3 (Zen 5, alternating processes): 24.0-29.9 us against
    // 27.3-38.2 for the four-chain loop below, 1-4 us over the plainest loop against 7-11; after a
    // 128 MiB flush 75-77 us against 84-88.
    if (one_row_fixed<NR>(acc[0], a.a, b, ldb, words, full)) return finish_tile<MR, NR>(acc, a, out, k);
    const auto xor_count = [&](const word_t* r, std::size_t w) {
      return _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a.a + w), _mm512_loadu_si512(r + w)));
    };
    // Other sizes from 32 whole words per row (k >= 1985): four add chains per row (with one,
    // 1x4096x4096 from L3 took 26.2-26.9 us, with four 23.6-24.6). Below, one chain: four cost
    // 1x1024x4096 (from L2) 9.0 us against 7.6.
    if (full >= 32) {
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) {
        const word_t* r = b + j * ldb;
        prefetch_ahead(r, words);
        __m512i c0 = acc[0][j], c1 = _mm512_setzero_si512(), c2 = c1, c3 = c1;
        std::size_t w = 0;
        for (; w + 32 <= full; w += 32) {
          c0 = _mm512_add_epi64(c0, xor_count(r, w));
          c1 = _mm512_add_epi64(c1, xor_count(r, w + 8));
          c2 = _mm512_add_epi64(c2, xor_count(r, w + 16));
          c3 = _mm512_add_epi64(c3, xor_count(r, w + 24));
        }
        for (; w < full; w += 8) c0 = _mm512_add_epi64(c0, xor_count(r, w));
        acc[0][j] = _mm512_add_epi64(_mm512_add_epi64(c0, c1), _mm512_add_epi64(c2, c3));
      }
    } else {
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) {
        prefetch_ahead(b + j * ldb, words);
        for (std::size_t w = 0; w < full; w += 8) acc[0][j] = _mm512_add_epi64(acc[0][j], xor_count(b + j * ldb, w));
      }
    }
  } else {
    for (std::size_t w = 0; w < full; w += 8) step<MR, NR, false>(acc, a, w, b + w, ldb, 0xFF);
  }
  finish_tile<MR, NR>(acc, a, out, k);
}

}  // namespace
}  // namespace pbn
