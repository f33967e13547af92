// The ceiling of the AVX-512 XNOR-popcount loop on this CPU: xor + vpopcntq +
// add over L1-resident data with 16 independent accumulators, no reduction,
// no tails. Any xnor_gemm micro-kernel issues these three ops per 512 bit-MACs.
//   g++ -O3 -mavx512f -mavx512vpopcntdq scripts/xnor_loop_peak.cpp -o /tmp/peak && /tmp/peak [GHz]
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const double ghz = argc > 1 ? std::atof(argv[1]) : 3.57;  // measure it: a chain of dependent imuls
  alignas(64) static std::uint64_t a[2 * 512], b[8 * 512];
  for (int i = 0; i < 8 * 512; ++i) b[i] = i * 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 2 * 512; ++i) a[i] = i * 0x12345ull;
  __m512i acc[2][8];
  for (auto& row : acc)
    for (auto& x : row) x = _mm512_setzero_si512();
  const long reps = 200000;
  const auto t0 = std::chrono::steady_clock::now();
  for (long r = 0; r < reps; ++r) {
    for (int w = 0; w < 512; w += 8) {
      const __m512i a0 = _mm512_load_si512(a + w), a1 = _mm512_load_si512(a + 512 + w);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const __m512i bj = _mm512_load_si512(b + j * 512 + w);
        acc[0][j] = _mm512_add_epi64(acc[0][j], _mm512_popcnt_epi64(_mm512_xor_si512(a0, bj)));
        acc[1][j] = _mm512_add_epi64(acc[1][j], _mm512_popcnt_epi64(_mm512_xor_si512(a1, bj)));
      }
    }
  }
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  __m512i s = _mm512_setzero_si512();
  for (auto& row : acc)
    for (auto& x : row) s = _mm512_add_epi64(s, x);
  const double bit_macs = double(reps) * 64 * 16 * 512;
  std::printf("%.0f bit-MACs/cycle at %.2f GHz (%.2f T bit-MAC/s; checksum %lld)\n", bit_macs / t / (ghz * 1e9), ghz,
              bit_macs / t / 1e12, static_cast<long long>(_mm512_reduce_add_epi64(s)));
}
