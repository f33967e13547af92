// The ceiling of the transposed table kernels' inner op on this CPU: one
// vpermt2ps (a 32-entry table in two registers) + one vaddps per lookup, 16
// independent accumulators, each permute with its own freshly loaded index
// (L1-resident), the tables opaque to the compiler so no permute is shared.
// A sweep step of table_t_avx512.h issues this pair per 16 lookups of 5 rows.
//   g++ -O3 -mavx512f scripts/table_lookup_peak.cpp -o /tmp/tpeak && /tmp/tpeak
#include <immintrin.h>

#include <chrono>
#include <cstdio>

int main() {
  alignas(64) static int idx[32 * 16 * 16];
  for (int i = 0; i < 32 * 16 * 16; ++i) idx[i] = (i * 7 + 3) & 31;
  const long reps = 20000000;
  for (int run = 0; run < 3; ++run) {
    __m512 acc[16];
    for (auto& a : acc) a = _mm512_setzero_ps();
    __m512 lo = _mm512_set1_ps(1.0f), hi = _mm512_set1_ps(2.0f);
    const auto t0 = std::chrono::steady_clock::now();
    for (long r = 0; r < reps; ++r) {
      const int* p = idx + (r & 31) * 256;
      __asm__ volatile("" : "+v"(lo), "+v"(hi));  // the tables change as far as the compiler knows
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j)
        acc[j] = _mm512_add_ps(acc[j], _mm512_permutex2var_ps(lo, _mm512_load_si512(p + 16 * j), hi));
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    __m512 sum = acc[0];
    for (int j = 1; j < 16; ++j) sum = _mm512_add_ps(sum, acc[j]);
    std::printf("vpermt2ps + vaddps: %.2f G lookups/s (checksum %g)\n", reps * 16 / s / 1e9,
                double(_mm512_reduce_add_ps(sum)));
  }
}
