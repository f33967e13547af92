// The ceiling of the table kernels' inner op on this CPU: one permute + one add per
// lookup, independent accumulators, no permute shared between them (the tables are
// opaque to the compiler), no table or index building, no output. No kernel that looks
// its sums up this way issues less per lookup, so benchmarks/speed_table.py holds
// binary_weight_matmul_t and ternary_weight_matmul_t (the products of every BNN
// training step's backward pass; rows 6b and 6c) to the loop of their ISA.
// - AVX-512, 16 accumulators, each permute with its own freshly loaded index (L1):
//   vpermt2ps (a 32-entry table in two registers): table_t_avx512.h's sweep step, 5
//     binary weight rows (80 sign-MACs) or 3 ternary ones (48) x 16 columns per lookup;
//   vpermps (a 16-entry table): binary_weight_matmul_lut__avx512's lookup, 16 weight
//     rows x 4 columns of x (the float first layer at batch 1); and the same with that
//     kernel's index: one dword of 8 nibbles per lane, rotated by 4 before each next
//     lookup (vpermps reads bits 0-3), one index load per 8 lookups.
// - AVX2, 12 accumulators (the binary kernel's 6 rows of g x 2 column blocks), tables
//   and indices in registers, as table_t_avx2.h: binary, vpermilps (4 entries per
//   128-bit lane) + vaddps, 2 weight rows x 8 columns (16 sign-MACs) per lookup;
//   ternary, vpermps (8 entries) looked up twice, by the +1 and by the -1 digits, +
//   vaddps and vsubps: 3 rows x 8 columns per pair (12 sign-MACs per lookup).
// Prints each loop's best of 3 rounds, then the two lines speed_table reads:
//   binary: <G sign-MAC/s> G sign-MAC/s (<lookups/cycle at GHz>; <loop>)
//   ternary: ...
//   g++ -O3 -mavx512f scripts/table_lookup_peak.cpp -o /tmp/tpeak && /tmp/tpeak [GHz]
//   g++ -O3 -mavx2 scripts/table_lookup_peak.cpp -o /tmp/tpeak && /tmp/tpeak [GHz]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One probe loop: lookups per second over `reps` iterations; adds its accumulators to checksum.
struct Loop {
  const char* name;
  double (*rate)(long reps, double& checksum);
  long reps;
};

#if defined(__AVX512F__)
enum class Lookup { kTwoTables, kOneTable, kOneTableRotated };

alignas(64) int g_idx[32 * 16 * 16];

template <Lookup kLookup>
double avx512_rate(long reps, double& checksum) {
  constexpr bool kTwoTables = kLookup == Lookup::kTwoTables;
  __m512 acc[16];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512 lo = _mm512_set1_ps(1.0f), hi = _mm512_set1_ps(2.0f);
  const auto t0 = std::chrono::steady_clock::now();
  for (long r = 0; r < reps; ++r) {
    const int* p = g_idx + (r & 31) * 256;
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
  const double s = seconds_since(t0);
  for (auto& a : acc) checksum += _mm512_reduce_add_ps(a);
  return reps * 16 / s;
}

void init() {
  for (int i = 0; i < 32 * 16 * 16; ++i) g_idx[i] = (i * 7 + 3) & 31;
}
const Loop kLoops[] = {{"vpermt2ps + vaddps", avx512_rate<Lookup::kTwoTables>, 20000000},
                       {"vpermps + vaddps", avx512_rate<Lookup::kOneTable>, 20000000},
                       {"vprord + vpermps + vaddps", avx512_rate<Lookup::kOneTableRotated>, 20000000}};
// speed_table's two lines: the loop each transposed kernel runs, and its sign-MACs per lookup
constexpr int kBinaryLoop = 0, kTernaryLoop = 0, kBinaryMacs = 5 * 16, kTernaryMacs = 3 * 16;
const char* const kBinaryWhat = "vpermt2ps + vaddps, 5 weight rows x 16 columns per lookup";
const char* const kTernaryWhat = "vpermt2ps + vaddps, 3 weight rows x 16 columns per lookup";
#elif defined(__AVX2__)
// Small table entries: the sums stay far from overflow over any run.
constexpr float kEntry = 1.0f / 1024;

// acc += table[ix] or acc -= table[ix] in asm volatile: lookups of one table by one index would
// otherwise be merged by the compiler into one. `lookup` names its operands in AT&T order.
#define PBN_LOOKUP(lookup, op, acc, table, ix, tmp)                                       \
  __asm__ volatile(lookup "\n\t" op " %[x], %[a], %[a]" : [a] "+v"(acc), [x] "=&v"(tmp) \
                   : [t] "v"(table), [i] "v"(ix))
#define PBN_VPERMILPS "vpermilps %[i], %[t], %[x]"  // x = t[i] within each 128-bit lane
#define PBN_VPERMPS "vpermps %[t], %[i], %[x]"      // x = t[i]

float lane_sum(__m256 v) {
  alignas(32) float f[8];
  _mm256_store_ps(f, v);
  float s = 0;
  for (float x : f) s += x;
  return s;
}

// Binary: vpermilps + vaddps; ternary: pairs of vpermps + vaddps / vsubps. The 12 accumulators
// are named, not an array: GCC kept an array that asm reads on the stack.
template <bool kTernary>
double avx2_rate(long reps, double& checksum) {
  const __m256 t = _mm256_setr_ps(kEntry, 2 * kEntry, 3 * kEntry, 4 * kEntry, 5 * kEntry, 6 * kEntry, 7 * kEntry,
                                  8 * kEntry);
  const __m256i i0 = _mm256_setr_epi32(0, 1, 2, 3, 3, 2, 1, 0), i1 = _mm256_setr_epi32(7, 6, 5, 4, 0, 1, 2, 3);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
         a10 = a0, a11 = a0, x;
  const auto t0 = std::chrono::steady_clock::now();
  if constexpr (kTernary) {
#define PBN_PAIR(ACC, I, J)                         \
  PBN_LOOKUP(PBN_VPERMPS, "vaddps", ACC, t, I, x); \
  PBN_LOOKUP(PBN_VPERMPS, "vsubps", ACC, t, J, x)
    for (long r = 0; r < reps; ++r) {
      PBN_PAIR(a0, i0, i1); PBN_PAIR(a1, i1, i0); PBN_PAIR(a2, i0, i1); PBN_PAIR(a3, i1, i0);
      PBN_PAIR(a4, i0, i1); PBN_PAIR(a5, i1, i0); PBN_PAIR(a6, i0, i1); PBN_PAIR(a7, i1, i0);
      PBN_PAIR(a8, i0, i1); PBN_PAIR(a9, i1, i0); PBN_PAIR(a10, i0, i1); PBN_PAIR(a11, i1, i0);
    }
#undef PBN_PAIR
  } else {
#define PBN_ONE(ACC, I) PBN_LOOKUP(PBN_VPERMILPS, "vaddps", ACC, t, I, x)
    for (long r = 0; r < reps; ++r) {
      PBN_ONE(a0, i0); PBN_ONE(a1, i1); PBN_ONE(a2, i0); PBN_ONE(a3, i1); PBN_ONE(a4, i0); PBN_ONE(a5, i1);
      PBN_ONE(a6, i0); PBN_ONE(a7, i1); PBN_ONE(a8, i0); PBN_ONE(a9, i1); PBN_ONE(a10, i0); PBN_ONE(a11, i1);
    }
#undef PBN_ONE
  }
  const double s = seconds_since(t0);
  for (__m256 v : {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11}) checksum += lane_sum(v);
  return double(reps) * 12 * (kTernary ? 2 : 1) / s;
}

void init() {}
const Loop kLoops[] = {{"vpermilps + vaddps", avx2_rate<false>, 20000000},
                       {"vpermps + vaddps / vsubps pairs", avx2_rate<true>, 10000000}};
constexpr int kBinaryLoop = 0, kTernaryLoop = 1, kBinaryMacs = 2 * 8, kTernaryMacs = 3 * 8 / 2;
const char* const kBinaryWhat = "vpermilps + vaddps, 2 weight rows x 8 columns per lookup";
const char* const kTernaryWhat = "vpermps + vaddps or vsubps, 3 weight rows x 8 columns per pair of lookups";
#else
#error "compile with -mavx512f or with -mavx2"
#endif

}  // namespace

int main(int argc, char** argv) {
  const double ghz = argc > 1 ? std::atof(argv[1]) : 3.57;  // measure it: a chain of dependent imuls
  init();
  constexpr int kN = sizeof(kLoops) / sizeof(kLoops[0]);
  double best[kN] = {}, checksum = 0;
  for (int round = 0; round < 3; ++round)  // the best of 3 rounds, loops alternating: load only slows a run
    for (int l = 0; l < kN; ++l) best[l] = std::max(best[l], kLoops[l].rate(kLoops[l].reps, checksum));
  for (int l = 0; l < kN; ++l) std::printf("%-32s %.2f G lookups/s\n", kLoops[l].name, best[l] / 1e9);
  const double binary = best[kBinaryLoop], ternary = best[kTernaryLoop];
  std::printf("binary: %.1f G sign-MAC/s (%.2f lookups/cycle at %.2f GHz; %s)\n", binary * kBinaryMacs / 1e9,
              binary / (ghz * 1e9), ghz, kBinaryWhat);
  std::printf("ternary: %.1f G sign-MAC/s (%.2f lookups/cycle at %.2f GHz; %s)\n", ternary * kTernaryMacs / 1e9,
              ternary / (ghz * 1e9), ghz, kTernaryWhat);
  std::printf("checksum %g\n", checksum);
}
