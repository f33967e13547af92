// AVX2: the sum over the -1 weights of a 32-row block, written lane-parallel so
// that GCC vectorizes the 32 lanes (four 8 x int32 registers); y = sum(x) - 2 *
// that. The fast path is the AVX-512 table kernel.
#include "../kernels.h"

namespace pbn {

void uint8_weight_matmul__avx2(const std::uint8_t* x, std::size_t ldx, const std::uint16_t* panels,
                               std::size_t chunks, std::int32_t* y, std::size_t ldy, std::size_t m, std::size_t n,
                               std::size_t k) {
  for (std::size_t i = 0; i < m; ++i) {
    const std::uint8_t* xi = x + i * ldx;
    std::int32_t total = 0;
    for (std::size_t c = 0; c < k; ++c) total += xi[c];
    for (std::size_t r = 0; r * 32 < n; ++r) {
      const std::uint16_t* p = panels + r * chunks * 32;
      std::int32_t neg[32] = {};
      for (std::size_t c = 0; c < k; ++c) {
        const std::uint16_t* bits = p + (c / 16) * 32;
        const unsigned shift = unsigned(c % 16);
        const std::int32_t v = xi[c];
        for (int l = 0; l < 32; ++l) neg[l] += -std::int32_t((bits[l] >> shift) & 1) & v;
      }
      const std::size_t rows = n - r * 32 < 32 ? n - r * 32 : 32;
      for (std::size_t l = 0; l < rows; ++l) y[i * ldy + r * 32 + l] = total - 2 * neg[l];
    }
  }
}

}  // namespace pbn
