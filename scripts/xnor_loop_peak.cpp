// The ceiling of the XNOR-popcount loop on this CPU, over L1-resident data with
// independent accumulators, no tails: what any xnor_gemm micro-kernel of the ISA
// compiled for issues per bit-MAC.
// - AVX-512 VPOPCNTDQ: xor + vpopcntq + add per 512 bit-MACs, 2 x 8 accumulators.
// - AVX2 (no vector popcount): xor, then each byte counted by two vpshufb lookups of
//   its nibbles (and, shift, and, 2 x vpshufb, add) into byte counters that vpsadbw
//   widens every 31 steps (as tile_avx2.h); the best of three register tilings and of
//   panels_avx2.h's loop, which counts a third of its columns by scalar popcnt at once.
//   g++ -O3 -mavx512f -mavx512vpopcntdq scripts/xnor_loop_peak.cpp -o /tmp/peak && /tmp/peak [GHz]
//   g++ -O3 -mavx2 scripts/xnor_loop_peak.cpp -o /tmp/peak && /tmp/peak [GHz]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr int kWords = 512;  // per row: 4 KiB, so 2 rows of A and 8 of B stay in L1
alignas(64) std::uint64_t a[2 * kWords], b[8 * kWords];

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

#if defined(__AVX512VPOPCNTDQ__)
const char* const kLoop = "AVX-512 vpopcntq, 2x8 accumulators";

// Returns bit-MACs per second; adds the accumulators to checksum so nothing is optimized away.
double loop_rate(long reps, long long& checksum) {
  __m512i acc[2][8];
  for (auto& row : acc)
    for (auto& x : row) x = _mm512_setzero_si512();
  const auto t0 = std::chrono::steady_clock::now();
  for (long r = 0; r < reps; ++r) {
    for (int w = 0; w < kWords; w += 8) {
      const __m512i a0 = _mm512_load_si512(a + w), a1 = _mm512_load_si512(a + kWords + w);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const __m512i bj = _mm512_load_si512(b + j * kWords + w);
        acc[0][j] = _mm512_add_epi64(acc[0][j], _mm512_popcnt_epi64(_mm512_xor_si512(a0, bj)));
        acc[1][j] = _mm512_add_epi64(acc[1][j], _mm512_popcnt_epi64(_mm512_xor_si512(a1, bj)));
      }
    }
  }
  const double t = seconds_since(t0);
  for (auto& row : acc)
    for (auto& x : row) checksum += _mm512_reduce_add_epi64(x);
  return double(reps) * 16 * kWords * 64 / t;
}
#elif defined(__AVX2__)
const char* const kLoop = "AVX2 vpshufb nibble counts, best of 1x4 / 2x2 / 1x8 tiles and 2 vector + 1 scalar panels";

constexpr int kSteps = 31;  // byte counters hold 31 steps of at most 8

// Each byte's popcount by two 16-entry lookups, of its low and its high nibble.
struct NibbleCounts {
  __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
                                 3, 3, 4);
  __m256i low = _mm256_set1_epi8(0x0f);
  __m256i operator()(__m256i v) const {
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
                           _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
  }
};

template <int MR, int NR>
__attribute__((noinline)) double tile_rate(  // each tiling its own loop: inlined, 1x4 lost ~15 %
    long reps, long long& checksum) {
  const NibbleCounts count;
  const __m256i zero = _mm256_setzero_si256();
  constexpr int kSpan = 4 * kSteps * (kWords / (4 * kSteps));  // whole blocks of 31 steps: 496 words
  __m256i acc[MR][NR];
  for (auto& row : acc)
    for (auto& x : row) x = zero;
  const auto t0 = std::chrono::steady_clock::now();
  for (long r = 0; r < reps; ++r) {
    for (int w = 0; w < kSpan; w += 4 * kSteps) {
      __m256i bytes[MR][NR];
      for (auto& row : bytes)
        for (auto& x : row) x = zero;
      for (int s = w; s < w + 4 * kSteps; s += 4) {
        __m256i va[MR];
#pragma GCC unroll 2
        for (int i = 0; i < MR; ++i) va[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + i * kWords + s));
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) {
          const __m256i vb = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + j * kWords + s));
#pragma GCC unroll 2
          for (int i = 0; i < MR; ++i) {
            bytes[i][j] = _mm256_add_epi8(bytes[i][j], count(_mm256_xor_si256(va[i], vb)));
          }
        }
      }
#pragma GCC unroll 2
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_add_epi64(acc[i][j], _mm256_sad_epu8(bytes[i][j], zero));
    }
  }
  const double t = seconds_since(t0);
  for (auto& row : acc)
    for (auto& x : row) checksum += _mm256_extract_epi64(x, 0) + _mm256_extract_epi64(x, 3);
  return double(reps) * MR * NR * kSpan * 64 / t;
}

// The column-panel loop of panels_avx2.h: one A word broadcast against 3 panels of 8
// columns; 2 panels counted on the vector units, the third by scalar popcnt on the
// integer ALUs in the same loop. B: 3 x 128 words x 8 columns = 24 KiB, in L1.
__attribute__((noinline)) double mixed_rate(long reps, long long& checksum) {
  constexpr int kQ = 124;  // 4 blocks of 31 words
  const NibbleCounts count;
  const __m256i zero = _mm256_setzero_si256();
  const std::uint64_t* panels = b;  // panel p, word q, column l at b[(p * kQ + q) * 8 + l]
  __m256i acc[4] = {zero, zero, zero, zero};
  std::uint64_t sc[8] = {};
  const auto t0 = std::chrono::steady_clock::now();
  for (long r = 0; r < reps; ++r) {
    for (int q0 = 0; q0 < kQ; q0 += kSteps) {
      __m256i bytes[4] = {zero, zero, zero, zero};
      for (int q = q0; q < q0 + kSteps; ++q) {
        const __m256i aq = _mm256_set1_epi64x(static_cast<long long>(a[q]));
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) {
          const __m256i x = _mm256_xor_si256(
              aq, _mm256_load_si256(reinterpret_cast<const __m256i*>(panels + ((v / 2) * kQ + q) * 8 + 4 * (v % 2))));
          bytes[v] = _mm256_add_epi8(bytes[v], count(x));
        }
        const std::uint64_t* bs = panels + (2 * kQ + q) * 8;
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) sc[l] += std::uint64_t(__builtin_popcountll(a[q] ^ bs[l]));
      }
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[v] = _mm256_add_epi64(acc[v], _mm256_sad_epu8(bytes[v], zero));
    }
  }
  const double t = seconds_since(t0);
  for (int v = 0; v < 4; ++v) checksum += _mm256_extract_epi64(acc[v], 0) + _mm256_extract_epi64(acc[v], 3);
  for (auto x : sc) checksum += static_cast<long long>(x);
  return double(reps) * 24 * kQ * 64 / t;
}

double loop_rate(long reps, long long& checksum) {
  // about the same bit-MACs per loop: reps scaled by 8 / (MR * NR)
  return std::max({tile_rate<1, 4>(2 * reps, checksum), tile_rate<2, 2>(2 * reps, checksum),
                   tile_rate<1, 8>(reps, checksum), mixed_rate(reps * 4 / 3, checksum)});
}
#else
#error "compile with -mavx512f -mavx512vpopcntdq or with -mavx2"
#endif

}  // namespace

int main(int argc, char** argv) {
  const double ghz = argc > 1 ? std::atof(argv[1]) : 3.57;  // measure it: a chain of dependent imuls
  for (int i = 0; i < 8 * kWords; ++i) b[i] = i * 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 2 * kWords; ++i) a[i] = i * 0x12345ull;
  long long checksum = 0;
  const double rate = loop_rate(200000, checksum);
  std::printf("%.0f bit-MACs/cycle at %.2f GHz (%.2f T bit-MAC/s; %s; checksum %lld)\n", rate / (ghz * 1e9), ghz,
              rate / 1e12, kLoop, checksum);
}
