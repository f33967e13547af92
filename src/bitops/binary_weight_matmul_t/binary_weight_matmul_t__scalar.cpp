// Reference: z[i, c] = sum over j of +g[i, j] (bit 0) or -g[i, j] (bit 1), one
// output at a time, in order of j. One addition or subtraction per term.
#include "../kernels.h"

namespace pbn {
namespace {

void reference(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z, std::size_t ldz,
               std::size_t m, std::size_t n, std::size_t k, OpTally* tally) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t c = 0; c < k; ++c) {
      float acc = 0.0f;
      for (std::size_t j = 0; j < n; ++j) {
        const bool neg = (s[j * lds + c / kWordBits] >> (c % kWordBits)) & 1;
        acc = neg ? acc - g[i * ldg + j] : acc + g[i * ldg + j];
      }
      z[i * ldz + c] = acc;
      if (tally) tally->additions += n;
    }
  }
}

}  // namespace

void binary_weight_matmul_t__scalar(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                    std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  reference(g, ldg, s, lds, z, ldz, m, n, k, nullptr);
}

void binary_weight_matmul_t__counted(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                     std::size_t ldz, std::size_t m, std::size_t n, std::size_t k, OpTally* tally) {
  reference(g, ldg, s, lds, z, ldz, m, n, k, tally);
}

}  // namespace pbn
