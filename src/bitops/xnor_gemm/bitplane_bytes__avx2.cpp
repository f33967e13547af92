// bitplane_bytes on AVX2 (kernels.h): the bit-plane first layer with each pixel's 8 planes left in
// its byte. AVX2 has no vector popcount: the planes' XNOR products by pshufb counts (xnor_gemm's
// AVX2 tiles) take 8 ops per 256 bit pairs, i.e. 64 ops per 32 pixel-weight pairs over the 8
// planes. Here a weight row's bits are spread once per block to bytes (0xFF for a -1 weight), and
// one vpsadbw of 32 pixels against those bytes sums |x - 0| = x or |x - 255| = x ^ 255 = the
// pixel's 8 planes XNORed with the weight, each plane's bit weighted 2^p by its place in the byte:
// 32 pairs per vpsadbw + vpaddq. out = that sum - 255 * (number of -1 weights) = x . w exactly.
// 100 x 784 -> 4096 on one Zen 5 core: 6.2-6.7 -> 2.0 ms (docs/INFERENCE.md, "First layer").
#include <immintrin.h>

#include <cstring>

#include "../kernels.h"
#include "../scratch.h"
#include "../simd/avx2.h"
#include "../tail.h"

namespace pbn {
namespace {

constexpr std::size_t kVector = 32;       // pixels (bytes) per vector
constexpr std::size_t kPixelRows = 128;   // pixel rows copied per pass (zero-padded to whole vectors)
constexpr std::size_t kWeightRows = 32;   // weight rows spread per block: 32 x 800 B at k = 784 (L1)
constexpr int kMR = 4, kNR = 2;           // pixel rows x weight rows per tile: 8 accumulators

thread_local ThreadBuffer t_bytes;  // the pixel rows of a pass, then the spread weight rows of a block

// MR pixel rows against NR spread weight rows over `vectors` vectors: the byte sums per pair.
template <int MR, int NR>
PBN_INLINE void tile(const std::uint8_t* x, std::size_t ldx, const std::uint8_t* wb, std::size_t ldb,
                     std::size_t vectors, std::int64_t (&sums)[kMR][kNR]) {
  __m256i acc[MR][NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_si256();
  for (std::size_t v = 0; v < vectors; ++v) {
    __m256i vx[MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) vx[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + i * ldx + v * kVector));
#pragma GCC unroll 2
    for (int j = 0; j < NR; ++j) {
      const __m256i vw = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + j * ldb + v * kVector));
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_add_epi64(acc[i][j], _mm256_sad_epu8(vx[i], vw));
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NR; ++j) {
      const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc[i][j]), _mm256_extracti128_si256(acc[i][j], 1));
      sums[i][j] = _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
    }
}

}  // namespace

void bitplane_bytes__avx2(const std::uint8_t* x, std::size_t ldx, const word_t* w, std::size_t ldw,
                          const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t m,
                          std::size_t n, std::size_t k) {
  const std::size_t vectors = (k + kVector - 1) / kVector, ld = vectors * kVector;  // ld: a multiple of 32
  const std::size_t rows = min_sz(m, kPixelRows), block = min_sz(n, kWeightRows);
  auto* px = static_cast<std::uint8_t*>(t_bytes.get((rows + block) * ld));
  if (!px) return bitplane_bytes__scalar(x, ldx, w, ldw, w_sums, out, ldo, m, n, k);  // no memory: the reference
  std::uint8_t* wb = px + rows * ld;  // 64-byte aligned: rows * ld is a multiple of 32, ld of 32
  for (std::size_t i0 = 0; i0 < m; i0 += rows) {
    const std::size_t mi = min_sz(rows, m - i0);
    for (std::size_t i = 0; i < mi; ++i) {  // zero padding: 0 against a spread 0 adds nothing
      std::memcpy(px + i * ld, x + (i0 + i) * ldx, k);
      std::memset(px + i * ld + k, 0, ld - k);
    }
    for (std::size_t j0 = 0; j0 < n; j0 += block) {
      const std::size_t nj = min_sz(block, n - j0);
      for (std::size_t j = 0; j < nj; ++j) {  // padding bits are zero (bit contract): spread to zero bytes
        const word_t* row = w + (j0 + j) * ldw;
        for (std::size_t v = 0; v < vectors; ++v)
          _mm256_store_si256(reinterpret_cast<__m256i*>(wb + j * ld + v * kVector),
                             bits_to_bytes(std::uint32_t(row[v / 2] >> (32 * (v % 2)))));
      }
      const auto finish = [&](std::size_t i, std::size_t j, int mr, int nr, const std::int64_t (&s)[kMR][kNR]) {
        for (int a = 0; a < mr; ++a)
          for (int b = 0; b < nr; ++b) {
            const std::int64_t minus = (std::int64_t(k) - w_sums[j0 + j + b]) / 2;  // -1 weights of the row
            out[(i0 + i + a) * ldo + j0 + j + b] = std::int32_t(s[a][b] - 255 * minus);
          }
      };
      const auto row_tiles = [&](std::size_t i, auto mr) {
        constexpr int MR = decltype(mr)::value;
        std::int64_t s[kMR][kNR];
        std::size_t j = 0;
        for (; j + kNR <= nj; j += kNR) {
          tile<MR, kNR>(px + i * ld, ld, wb + j * ld, ld, vectors, s);
          finish(i, j, MR, kNR, s);
        }
        with_count<kNR - 1>(nj - j, [&](auto nr) {
          tile<MR, decltype(nr)::value>(px + i * ld, ld, wb + j * ld, ld, vectors, s);
          finish(i, j, MR, decltype(nr)::value, s);
        });
      };
      std::size_t i = 0;
      for (; i + kMR <= mi; i += kMR) row_tiles(i, Count<kMR>{});
      with_count<kMR - 1>(mi - i, [&](auto mr) { row_tiles(i, mr); });
    }
  }
}

}  // namespace pbn
