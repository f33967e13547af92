// The ceiling of the table kernels' inner op on this CPU: one lane permute +
// one vaddps per lookup, 16 independent accumulators, each permute with its own
// freshly loaded index (L1-resident), the tables opaque to the compiler so no
// permute is shared. Two permutes:
// - vpermt2ps (a 32-entry table in two registers): a sweep step of
//   table_t_avx512.h issues it per 16 lookups of 5 rows;
// - vpermps (a 16-entry table): binary_weight_matmul_lut__avx512's lookup, 16
//   weight rows x 4 columns of x (the float first layer at batch 1); and the
//   same with that kernel's index: one dword of 8 nibbles per lane, rotated by 4
//   before each next lookup (vpermps reads bits 0-3), one index load per 8 lookups.
//   g++ -O3 -mavx512f scripts/table_lookup_peak.cpp -o /tmp/tpeak && /tmp/tpeak
#include <immintrin.h>

#include <chrono>
#include <cstdio>

enum class Lookup { kTwoTables, kOneTable, kOneTableRotated };

template <Lookup kLookup>
void run(const int* idx, long reps) {
  constexpr bool kTwoTables = kLookup == Lookup::kTwoTables;
  __m512 acc[16];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512 lo = _mm512_set1_ps(1.0f), hi = _mm512_set1_ps(2.0f);
  const auto t0 = std::chrono::steady_clock::now();
  for (long r = 0; r < reps; ++r) {
    const int* p = idx + (r & 31) * 256;
    __asm__ volatile("" : "+v"(lo), "+v"(hi));  // the tables change as far as the compiler knows
    if constexpr (kLookup == Lookup::kOneTableRotated) {
      __m512i rot[2] = {_mm512_load_si512(p), _mm512_load_si512(p + 16)};
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        acc[j] = _mm512_add_ps(acc[j], _mm512_permutexvar_ps(rot[j & 1], lo));
        rot[j & 1] = _mm512_ror_epi32(rot[j & 1], 4);
      }
    } else {
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        const __m512i i = _mm512_load_si512(p + 16 * j);
        acc[j] = _mm512_add_ps(acc[j], kTwoTables ? _mm512_permutex2var_ps(lo, i, hi) : _mm512_permutexvar_ps(i, lo));
      }
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  __m512 sum = acc[0];
  for (int j = 1; j < 16; ++j) sum = _mm512_add_ps(sum, acc[j]);
  const char* name = kTwoTables ? "vpermt2ps" : kLookup == Lookup::kOneTable ? "vpermps" : "vprord + vpermps";
  std::printf("%-16s + vaddps: %.2f G lookups/s (checksum %g)\n", name,
              reps * 16 / s / 1e9, double(_mm512_reduce_add_ps(sum)));
}

int main() {
  alignas(64) static int idx[32 * 16 * 16];
  for (int i = 0; i < 32 * 16 * 16; ++i) idx[i] = (i * 7 + 3) & 31;
  const long reps = 20000000;
  for (int round = 0; round < 3; ++round) {
    run<Lookup::kTwoTables>(idx, reps);
    run<Lookup::kOneTable>(idx, reps);
    run<Lookup::kOneTableRotated>(idx, reps);
  }
}
