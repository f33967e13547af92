// Reference: y[i, j] = sum over c of +x[i, c] (bit 0) or -x[i, c] (bit 1), one
// output at a time, in order. One addition or subtraction per element.
#include "../kernels.h"

namespace pbn {
namespace {

void reference(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y, std::size_t ldy,
               std::size_t m, std::size_t n, std::size_t k, OpTally* tally) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (std::size_t c = 0; c < k; ++c) {
        const bool neg = (s[j * lds + c / kWordBits] >> (c % kWordBits)) & 1;
        acc = neg ? acc - x[i * ldx + c] : acc + x[i * ldx + c];
      }
      y[i * ldy + j] = acc;
      if (tally) tally->additions += k;
    }
  }
}

}  // namespace

void binary_weight_matmul__scalar(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                  std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  reference(x, ldx, s, lds, y, ldy, m, n, k, nullptr);
}

void binary_weight_matmul__counted(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                   std::size_t ldy, std::size_t m, std::size_t n, std::size_t k, OpTally* tally) {
  reference(x, ldx, s, lds, y, ldy, m, n, k, tally);
}

}  // namespace pbn
