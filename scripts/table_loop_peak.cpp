// The ceiling of the table kernels' lookup on this CPU: one permute + one add per
// lookup, tables and indices in registers, independent accumulators, no loads, no
// table or index building. No kernel that looks its sums up this way can issue
// fewer instructions per sign-MAC, so binary_weight_matmul_t and
// ternary_weight_matmul_t (the products of every BNN training step's backward
// pass) are held to it (benchmarks/speed_table.py, rows 6b and 6c).
// - AVX-512: vpermt2ps (a 32-float table in two zmm) + vaddps, as table_t_avx512.h:
//   5 binary weight rows x 16 columns (80 sign-MACs) or 3 ternary rows (48) per lookup.
// - AVX2: binary, vpermilps (4 floats per 128-bit lane) + vaddps, 2 weight rows x 8
//   columns (16 sign-MACs) per lookup; ternary, vpermps (8 floats) looked up twice, by
//   the +1 and by the -1 digits, + vaddps and vsubps: 3 rows x 8 columns per pair (12
//   per lookup), as table_t_avx2.h.
//   g++ -O3 -mavx512f scripts/table_loop_peak.cpp -o /tmp/tpeak && /tmp/tpeak [GHz]
//   g++ -O3 -mavx2 scripts/table_loop_peak.cpp -o /tmp/tpeak && /tmp/tpeak [GHz]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Small table entries: the sums stay far from overflow over any run.
constexpr float kEntry = 1.0f / 1024;

// acc += table[ix] or acc -= table[ix] in asm volatile: lookups of one table by one index would
// otherwise be merged by the compiler into one. `lookup` names its operands in AT&T order.
#define PBN_LOOKUP(lookup, op, acc, table, ix, tmp)                                       \
  __asm__ volatile(lookup "\n\t" op " %[x], %[a], %[a]" : [a] "+v"(acc), [x] "=&v"(tmp) \
                   : [t] "v"(table), [i] "v"(ix))
#define PBN_VPERMILPS "vpermilps %[i], %[t], %[x]"  // x = t[i] within each 128-bit lane
#define PBN_VPERMPS "vpermps %[t], %[i], %[x]"      // x = t[i]

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kBinaryMacs = 5 * 16, kTernaryMacs = 3 * 16;
const char* const kBinaryLoop = "vpermt2ps + vaddps, 5 weight rows x 16 columns per lookup";
const char* const kTernaryLoop = "vpermt2ps + vaddps, 3 weight rows x 16 columns per lookup";
constexpr int kAcc = 16;

float lane_sum(Vec v) { return _mm512_reduce_add_ps(v); }

// Lookups per second of the loop both AVX-512 kernels run: 16 accumulators, each with its own
// (table, index) pair, so that no two lookups are the same and the compiler keeps all 16.
__attribute__((noinline)) double lookup_rate(long reps, bool, double& checksum) {
  __m512 lo[2] = {_mm512_set1_ps(kEntry), _mm512_set1_ps(3 * kEntry)};
  __m512 hi[2] = {_mm512_set1_ps(2 * kEntry), _mm512_set1_ps(4 * kEntry)};
  __m512i ix[8];
  for (int q = 0; q < 8; ++q) ix[q] = _mm512_add_epi32(_mm512_set1_epi32(4 * q), _mm512_set1_epi32(q % 3));
  Vec acc[kAcc];
  for (auto& x : acc) x = _mm512_setzero_ps();
  const auto t0 = std::chrono::steady_clock::now();
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 16
    for (int q = 0; q < kAcc; ++q)
      acc[q] = _mm512_add_ps(acc[q], _mm512_permutex2var_ps(lo[q / 8], ix[q % 8], hi[q / 8]));
    // as if new tables: the lookups stay in the loop
    __asm__ volatile("" : "+v"(lo[0]), "+v"(lo[1]), "+v"(hi[0]), "+v"(hi[1]));
  }
  const double t = seconds_since(t0);
  for (auto& x : acc) checksum += lane_sum(x);
  return double(reps) * kAcc / t;
}
#elif defined(__AVX2__)
using Vec = __m256;
constexpr int kBinaryMacs = 2 * 8, kTernaryMacs = 3 * 8 / 2;
const char* const kBinaryLoop = "vpermilps + vaddps, 2 weight rows x 8 columns per lookup";
const char* const kTernaryLoop = "vpermps + vaddps or vsubps, 3 weight rows x 8 columns per pair of lookups";
constexpr int kAcc = 12;  // the binary kernel's 6 rows of g x 2 column blocks

float lane_sum(Vec v) {
  alignas(32) float f[8];
  _mm256_store_ps(f, v);
  float s = 0;
  for (float x : f) s += x;
  return s;
}

// Lookups per second: binary, vpermilps + vaddps; ternary, pairs of vpermps + vaddps / vsubps.
// The 12 accumulators are named, not an array: GCC kept an array that asm reads on the stack.
__attribute__((noinline)) double lookup_rate(long reps, bool ternary, double& checksum) {
  const __m256 t = _mm256_setr_ps(kEntry, 2 * kEntry, 3 * kEntry, 4 * kEntry, 5 * kEntry, 6 * kEntry, 7 * kEntry,
                                  8 * kEntry);
  const __m256i i0 = _mm256_setr_epi32(0, 1, 2, 3, 3, 2, 1, 0), i1 = _mm256_setr_epi32(7, 6, 5, 4, 0, 1, 2, 3);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
         a10 = a0, a11 = a0, x;
  const auto t0 = std::chrono::steady_clock::now();
  if (ternary) {
#define PBN_PAIR(a, i, j)                              \
  PBN_LOOKUP(PBN_VPERMPS, "vaddps", a, t, i, x); \
  PBN_LOOKUP(PBN_VPERMPS, "vsubps", a, t, j, x)
    for (long r = 0; r < reps; ++r) {
      PBN_PAIR(a0, i0, i1); PBN_PAIR(a1, i1, i0); PBN_PAIR(a2, i0, i1); PBN_PAIR(a3, i1, i0);
      PBN_PAIR(a4, i0, i1); PBN_PAIR(a5, i1, i0); PBN_PAIR(a6, i0, i1); PBN_PAIR(a7, i1, i0);
      PBN_PAIR(a8, i0, i1); PBN_PAIR(a9, i1, i0); PBN_PAIR(a10, i0, i1); PBN_PAIR(a11, i1, i0);
    }
#undef PBN_PAIR
  } else {
#define PBN_ONE(a, i) PBN_LOOKUP(PBN_VPERMILPS, "vaddps", a, t, i, x)
    for (long r = 0; r < reps; ++r) {
      PBN_ONE(a0, i0); PBN_ONE(a1, i1); PBN_ONE(a2, i0); PBN_ONE(a3, i1); PBN_ONE(a4, i0); PBN_ONE(a5, i1);
      PBN_ONE(a6, i0); PBN_ONE(a7, i1); PBN_ONE(a8, i0); PBN_ONE(a9, i1); PBN_ONE(a10, i0); PBN_ONE(a11, i1);
    }
#undef PBN_ONE
  }
  const double t_s = seconds_since(t0);
  for (__m256 v : {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11}) checksum += lane_sum(v);
  return double(reps) * kAcc * (ternary ? 2 : 1) / t_s;
}
#else
#error "compile with -mavx512f or with -mavx2"
#endif

}  // namespace

int main(int argc, char** argv) {
  const double ghz = argc > 1 ? std::atof(argv[1]) : 3.57;  // measure it: a chain of dependent imuls
  double checksum = 0;
  constexpr long kReps = 20000000;
  // best of 3 runs each, alternating: load only slows a run
  double binary = 0, ternary = 0;
  for (int i = 0; i < 3; ++i) {
    binary = std::max(binary, lookup_rate(kReps, false, checksum));
    ternary = std::max(ternary, lookup_rate(kReps / 2, true, checksum));
  }
  std::printf("binary: %.1f G sign-MAC/s (%.2f lookups/cycle at %.2f GHz; %s)\n", binary * kBinaryMacs / 1e9,
              binary / (ghz * 1e9), ghz, kBinaryLoop);
  std::printf("ternary: %.1f G sign-MAC/s (%.2f lookups/cycle at %.2f GHz; %s)\n", ternary * kTernaryMacs / 1e9,
              ternary / (ghz * 1e9), ghz, kTernaryLoop);
  std::printf("checksum %.6g\n", checksum);
}
