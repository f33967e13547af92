// The column-panel micro-kernel of the xnor_gemm family on AVX2, written once
// over its epilogue (a sink, below), as panels_avx512.h is on AVX-512: a
// 64-bit lane is an output column, so there is no horizontal reduction and no
// K tail. No vector popcount: each byte of a ^ b is counted with two 16-entry
// table lookups (vpshufb on the low and high nibbles, as tile_avx2.h), byte
// counts add up for at most 31 words (31 * 8 < 256), then vpsadbw sums each
// lane's 8 bytes into its 64-bit count. Against the row tile at conv row
// lengths (9 taps x 2 words = 18 words: 4 full 256-bit steps, a scalar tail of
// 2 words and a reduction per output) this drops the tail and the reduction:
// the CIFAR-10 net's binary convs at batch 100 ran 0.60x (128 channels in) to
// 0.90x (512) of the row path's time on a Zen 5 core.
// Tile: 1 A row x 3 panels (24 columns). Those 8 ops per 256 bit-MACs keep the
// vector units busy while the integer ALUs sit idle, so the third panel is
// counted there, in the same loop, by scalar popcnt (xor, popcnt, add per
// column and word: 8 accumulators in general registers). Zen 5, 1 thread,
// against the 2 rows x 2 vector panels it replaced: the MLP's fused
// 100x4096x4096 layer 3.8 -> 3.0 ms, the CIFAR-10 CNN at batch 100 151 ->
// 130 ms. A 1 + 1 split ran 3.3 ms / 140 ms, 3 + 1 (register spills) 4.9 / 211.
// The loops around the tile and the variants built on it: panel_loops.h
// (xnor_gemm_panels__avx2.cpp).
#pragma once

#include <immintrin.h>

#include "../bits.h"
#include "panel_loops.h"

namespace pbn {
namespace {

constexpr std::size_t kMaxByteWords = 31;  // byte counts of at most 8 per word: 31 * 8 = 248 < 256

// int32 dot products, c[i, j] (xnor_gemm).
struct Avx2PanelInt32Sink {
  std::int32_t* c;
  std::size_t ldc, n;
  template <int MR>
  PBN_INLINE void put(std::size_t i, std::size_t j, const __m256i (&dot)[MR][2]) const {
    const std::size_t live = n - j < 8 ? n - j : 8;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      alignas(32) std::int64_t d[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(d), dot[r][0]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(d + 4), dot[r][1]);
      for (std::size_t l = 0; l < live; ++l) c[(i + r) * ldc + j + l] = std::int32_t(d[l]);
    }
  }
};

// The fused binary layer's sign bits: byte j / 8 of each row (rows zeroed first).
struct Avx2PanelBitsSink {
  std::uint8_t* c;
  std::size_t ldc_bytes, n;
  const std::int32_t* thresholds;
  const std::uint8_t* flips;
  template <int MR>
  PBN_INLINE void put(std::size_t i, std::size_t j, const __m256i (&dot)[MR][2]) const {
    const std::size_t live = n - j < 8 ? n - j : 8;
    __m256i t[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {  // thresholds of columns j + 4h .. j + 4h + 3 (0 past n), as int64
      const int left = int(live) - 4 * h;
      const __m128i lanes = _mm_cmpgt_epi32(_mm_set1_epi32(left), _mm_setr_epi32(0, 1, 2, 3));
      t[h] = _mm256_cvtepi32_epi64(_mm_maskload_epi32(thresholds + j + (left > 0 ? 4 * h : 0), lanes));
    }
    const unsigned flip = flips[j / 8];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      unsigned lt = 0, gt = 0;
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        lt |= unsigned(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(t[h], dot[r][h])))) << (4 * h);
        gt |= unsigned(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(dot[r][h], t[h])))) << (4 * h);
      }
      c[(i + r) * ldc_bytes + j / 8] = std::uint8_t(((lt & ~flip) | (gt & flip)) & ((1u << live) - 1));
    }
  }
};

struct Avx2PanelTile {
  static constexpr int kMR = 1;  // A rows per tile
  static constexpr int kNP = 3;  // panels (8 columns) per tile: 2 on the vector units, 1 by scalar popcnt

  // MR rows x NP panels. The full tile (1 row x kNP panels) counts its last panel by scalar
  // popcnt on the integer ALUs (8 accumulators in general registers), in the same loop as the
  // vector panels so that both run at once; the tails count every panel on the vector units.
  template <int MR, int NP, class Sink>
  static PBN_INLINE void run(const word_t* a, std::size_t lda, const word_t* bp, std::size_t words, std::size_t row,
                             std::size_t col, std::int64_t k, const Sink& out) {
    constexpr bool kScalar = MR == 1 && NP == kNP;
    constexpr int NV = kScalar ? NP - 1 : NP;  // panels on the vector units
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1,
                                         2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    alignas(32) std::int64_t ones[MR][2 * NV][4] = {};
    std::uint64_t sc[8] = {};  // the scalar panel's counts
    const word_t* bs = bp + NV * words * 8;
    for (std::size_t q0 = 0; q0 < words; q0 += kMaxByteWords) {
      const std::size_t q1 = q0 + kMaxByteWords < words ? q0 + kMaxByteWords : words;
      __m256i bytes[MR][2 * NV];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < 2 * NV; ++v) bytes[i][v] = zero;
      for (std::size_t q = q0; q < q1; ++q) {
        __m256i aq[MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) aq[i] = _mm256_set1_epi64x(static_cast<long long>(a[i * lda + q]));
#pragma GCC unroll 8
        for (int v = 0; v < 2 * NV; ++v) {
          const __m256i b =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + ((v / 2) * words + q) * 8 + 4 * (v % 2)));
#pragma GCC unroll 8
          for (int i = 0; i < MR; ++i) {
            const __m256i x = _mm256_xor_si256(aq[i], b);
            const __m256i lo = _mm256_and_si256(x, low), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
            bytes[i][v] = _mm256_add_epi8(bytes[i][v],
                                          _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi)));
          }
        }
        if constexpr (kScalar) {
          const word_t aw = a[q], *b = bs + q * 8;
#pragma GCC unroll 8
          for (int l = 0; l < 8; ++l) sc[l] += std::uint64_t(__builtin_popcountll(aw ^ b[l]));
        }
      }
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < 2 * NV; ++v) {
          __m256i* o = reinterpret_cast<__m256i*>(ones[i][v]);
          _mm256_store_si256(o, _mm256_add_epi64(_mm256_load_si256(o), _mm256_sad_epu8(bytes[i][v], zero)));
        }
    }
    const __m256i kk = _mm256_set1_epi64x(k);  // dot = k - 2 * ones
    const auto dot_of = [&](__m256i c) { return _mm256_sub_epi64(kk, _mm256_slli_epi64(c, 1)); };
#pragma GCC unroll 8
    for (int p = 0; p < NV; ++p) {
      __m256i dot[MR][2];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h)
          dot[i][h] = dot_of(_mm256_load_si256(reinterpret_cast<const __m256i*>(ones[i][2 * p + h])));
      out.template put<MR>(row, col + 8 * std::size_t(p), dot);
    }
    if constexpr (kScalar) {
      __m256i dot[1][2];
      dot[0][0] = dot_of(_mm256_setr_epi64x(std::int64_t(sc[0]), std::int64_t(sc[1]), std::int64_t(sc[2]),
                                            std::int64_t(sc[3])));
      dot[0][1] = dot_of(_mm256_setr_epi64x(std::int64_t(sc[4]), std::int64_t(sc[5]), std::int64_t(sc[6]),
                                            std::int64_t(sc[7])));
      out.template put<1>(row, col + 8 * std::size_t(NV), dot);
    }
  }
};

}  // namespace
}  // namespace pbn
