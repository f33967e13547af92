// Reference of bitplane_bytes (kernels.h): x . w one pixel at a time, in int64, from the weight
// bits (bit 1 = -1). Ignores w_sums: it is the rule the fast variants' use of them is checked by.
#include "../kernels.h"

namespace pbn {

void bitplane_bytes__scalar(const std::uint8_t* x, std::size_t ldx, const word_t* w, std::size_t ldw,
                            const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t m,
                            std::size_t n, std::size_t k) {
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      std::int64_t s = 0;
      for (std::size_t c = 0; c < k; ++c) {
        const std::int64_t p = x[i * ldx + c];
        s += ((w[j * ldw + c / kWordBits] >> (c % kWordBits)) & 1) ? -p : p;
      }
      out[i * ldo + j] = std::int32_t(s);
    }
}

}  // namespace pbn
