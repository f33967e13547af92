// One core's read bandwidth over a region of BYTES, the ceiling of a kernel that must stream
// its weights once per call (xnor_gemm at batch 1, the BNN MLP at batch 1):
//   warm: the region was read just before (from whichever cache level holds it);
//   cold: a flush buffer (default 128 MiB, 4x this machine's L3) is read between passes,
//         so the region comes from DRAM, as it does for weights after other work.
// Each pass reads every 64-byte line once (8 independent xor chains), nothing else.
//   g++ -O3 -mavx512f scripts/read_bandwidth.cpp -o build/read_bandwidth   (or -mavx2)
//   build/read_bandwidth BYTES warm|cold [passes] [flush MiB]
// Prints one line: bytes=... mode=... passes=... median_ms=... median_gbs=... best_gbs=...
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

#if defined(__AVX512F__)
using Vec = __m512i;
inline Vec load(const std::uint64_t* p) { return _mm512_load_si512(p); }
inline Vec vxor(Vec a, Vec b) { return _mm512_xor_si512(a, b); }
inline Vec zero() { return _mm512_setzero_si512(); }
inline std::uint64_t fold(Vec v) { return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(v)); }
#else
using Vec = __m256i;
inline Vec load(const std::uint64_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
inline Vec vxor(Vec a, Vec b) { return _mm256_xor_si256(a, b); }
inline Vec zero() { return _mm256_setzero_si256(); }
inline std::uint64_t fold(Vec v) {
  alignas(32) std::uint64_t w[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(w), v);
  return w[0] + w[1] + w[2] + w[3];
}
#endif
constexpr std::size_t kWords = sizeof(Vec) / 8;  // 64-bit words per vector

// xor of every word of p[0, words): each line loaded once, 8 chains in flight
std::uint64_t read_all(const std::uint64_t* p, std::size_t words) {
  Vec acc[8];
  for (auto& a : acc) a = zero();
  const std::size_t step = 8 * kWords;
  std::size_t i = 0;
  for (; i + step <= words; i += step)
    for (int j = 0; j < 8; ++j) acc[j] = vxor(acc[j], load(p + i + j * kWords));
  std::uint64_t tail = 0;
  for (; i < words; ++i) tail ^= p[i];
  for (int j = 1; j < 8; ++j) acc[0] = vxor(acc[0], acc[j]);
  return fold(acc[0]) ^ tail;
}

std::uint64_t* alloc_words(std::size_t words) {
  const std::size_t bytes = (words * 8 + 63) / 64 * 64;
  auto* p = static_cast<std::uint64_t*>(std::aligned_alloc(64, bytes));
  if (!p) {
    std::fprintf(stderr, "out of memory\n");
    std::exit(1);
  }
  for (std::size_t i = 0; i < words; ++i) p[i] = i * 0x9E3779B97F4A7C15ull;  // touch every page
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || (std::strcmp(argv[2], "warm") != 0 && std::strcmp(argv[2], "cold") != 0)) {
    std::fprintf(stderr, "usage: %s BYTES warm|cold [passes] [flush MiB]\n", argv[0]);
    return 2;
  }
  const std::size_t bytes = std::strtoull(argv[1], nullptr, 10);
  const bool cold = std::strcmp(argv[2], "cold") == 0;
  const int passes = argc > 3 ? std::atoi(argv[3]) : (cold ? 21 : 201);
  const std::size_t flush_mib = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 128;
  const std::size_t words = (bytes + 7) / 8 / kWords * kWords;
  if (words == 0 || passes < 1) return 2;
  std::uint64_t* region = alloc_words(words);
  std::uint64_t* flush = cold ? alloc_words(flush_mib << 17) : nullptr;
  std::uint64_t sink = read_all(region, words);  // warm-up; sums keep every pass live
  std::vector<double> ms;
  for (int r = 0; r < passes; ++r) {
    if (cold) sink += read_all(flush, flush_mib << 17);
    const auto t0 = std::chrono::steady_clock::now();
    sink += read_all(region, words);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2], best = ms.front(), got = double(words) * 8;
  std::printf("bytes=%.0f mode=%s passes=%d median_ms=%.5f median_gbs=%.2f best_gbs=%.2f (checksum %llu)\n", got,
              cold ? "cold" : "warm", passes, median, got / median / 1e6, got / best / 1e6,
              static_cast<unsigned long long>(sink & 0xff));
}
