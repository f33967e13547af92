// Scalar reference: each output is a plain sum over the columns, adding the
// pixel where the weight is +1 and subtracting it where it is -1.
#include "../kernels.h"

namespace pbn {

void uint8_weight_matmul__scalar(const std::uint8_t* x, std::size_t ldx, const std::uint16_t* panels,
                                 std::size_t chunks, std::int32_t* y, std::size_t ldy, std::size_t m, std::size_t n,
                                 std::size_t k) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint16_t* lane = panels + (j / 32) * chunks * 32 + j % 32;
      std::int32_t s = 0;
      for (std::size_t c = 0; c < k; ++c) {
        const bool negative = (lane[(c / 16) * 32] >> (c % 16)) & 1;
        s += negative ? -std::int32_t(x[i * ldx + c]) : std::int32_t(x[i * ldx + c]);
      }
      y[i * ldy + j] = s;
    }
  }
}

}  // namespace pbn
