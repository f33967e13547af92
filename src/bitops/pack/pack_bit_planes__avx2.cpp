// pack_bit_planes on AVX2: 32 pixels per load; shifting each byte's bit p to bit 7 (a 16-bit
// shift: the bits crossing into the next byte land below bit 7) and vpmovmskb give 32 bits of
// plane p, complemented (set where the bit is clear). A row's last partial word is read from a
// zeroed copy and its padding bits cleared.
#include <immintrin.h>

#include <cstring>

#include "../kernels.h"

namespace pbn {
namespace {

inline void planes_of_64(const std::uint8_t* px, word_t* o, std::size_t plane_stride, word_t keep) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(px));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(px + 32));
#pragma GCC unroll 8
  for (int p = 0; p < 8; ++p) {
    const word_t set = word_t(std::uint32_t(_mm256_movemask_epi8(_mm256_slli_epi16(lo, 7 - p)))) |
                       word_t(std::uint32_t(_mm256_movemask_epi8(_mm256_slli_epi16(hi, 7 - p)))) << 32;
    o[p * plane_stride] = ~set & keep;
  }
}

}  // namespace

void pack_bit_planes__avx2(const std::uint8_t* x, std::size_t ldx, std::size_t rows, std::size_t k, word_t* out,
                           std::size_t ldo, std::size_t plane_stride) {
  const std::size_t whole = k / 64, words = words_for(k);
  for (std::size_t i = 0; i < rows; ++i) {
    const std::uint8_t* xi = x + i * ldx;
    for (std::size_t w = 0; w < whole; ++w) planes_of_64(xi + 64 * w, out + i * ldo + w, plane_stride, ~word_t(0));
    if (words > whole) {
      alignas(32) std::uint8_t tail[64] = {};
      std::memcpy(tail, xi + 64 * whole, k - 64 * whole);
      planes_of_64(tail, out + i * ldo + whole, plane_stride, (word_t(1) << (k - 64 * whole)) - 1);
    }
  }
}

}  // namespace pbn
