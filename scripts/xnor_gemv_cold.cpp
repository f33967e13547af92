// Row 5 of the speed table below Python: xnor_gemm 1x4096x4096 (2 MiB of packed
// weights) right after a 128 MiB read has evicted them, pybitnet's kernel
// (xnor_gemm__avx512, linked from the source) against the plainest AVX-512 loop
// over the same bits, in turns, median of 41 each. "h" puts the weights on
// MADV_HUGEPAGE memory (as packed models hold them). The Python-level figure adds
// the interpreter between flush and call, and in this VM swings 13-28 GB/s run to run.
//   FL="-mavx2 -mpopcnt -mbmi -mbmi2 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx512vpopcntdq"
//   g++ -O3 -std=c++17 -Isrc/bitops $FL scripts/xnor_gemv_cold.cpp src/bitops/xnor_gemm/xnor_gemm__avx512.cpp \
//       -o /tmp/gemv && /tmp/gemv && /tmp/gemv h
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels.h"

using pbn::word_t;

__attribute__((noinline)) void plain_loop(const word_t* a, const word_t* b, std::size_t n, std::size_t words, int* out) {
  for (std::size_t j0 = 0; j0 < n; j0 += 8) {
    __m512i acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_setzero_si512();
    for (std::size_t w = 0; w < words; w += 8) {
      const __m512i va = _mm512_loadu_si512(a + w);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j)
        acc[j] = _mm512_add_epi64(acc[j], _mm512_popcnt_epi64(_mm512_xor_si512(va, _mm512_loadu_si512(b + (j0 + j) * words + w))));
    }
    for (int j = 0; j < 8; ++j) out[j0 + j] = int(_mm512_reduce_add_epi64(acc[j]));
  }
}

int main(int argc, char** argv) {
  const std::size_t n = 4096, words = 64, bytes = n * words * sizeof(word_t);
  const bool huge = argc > 1 && argv[1][0] == 'h';
  auto* b = static_cast<word_t*>(std::aligned_alloc(2 << 20, bytes));
  if (huge) madvise(b, bytes, MADV_HUGEPAGE);
  for (std::size_t i = 0; i < n * words; ++i) b[i] = i * 0x9E3779B97F4A7C15ull;
  std::vector<word_t> a(words, 0x5555);
  std::vector<int> out(n);
  std::vector<float> flush((128 << 20) / 4, 1.0f);
  auto cold = [&](auto fn) {
    volatile float s = 0;
    for (std::size_t i = 0; i < flush.size(); i += 16) s = s + flush[i];  // one read per cache line
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  std::vector<double> t[2];
  for (int r = 0; r < 41; ++r) {
    t[0].push_back(cold([&] { plain_loop(a.data(), b, n, words, out.data()); }));
    t[1].push_back(cold([&] { pbn::xnor_gemm__avx512(a.data(), words, b, words, out.data(), n, 1, n, words, 4096); }));
  }
  const char* names[] = {"plain loop", "xnor_gemm__avx512"};
  for (int i = 0; i < 2; ++i) {
    std::sort(t[i].begin(), t[i].end());
    std::printf("%s%-18s %.1f GB/s (%.1f us)\n", huge ? "huge pages: " : "", names[i], bytes / t[i][20] / 1e9, 1e6 * t[i][20]);
  }
  std::free(b);
}
