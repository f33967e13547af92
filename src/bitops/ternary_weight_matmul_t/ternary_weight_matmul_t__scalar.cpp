// Reference: z[i, c] = sum over the rows j whose weight at c is nonzero of
// +g[i, j] or -g[i, j]; zero weights are skipped (no operation at all).
#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

void reference(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, const word_t* nz,
               std::size_t ldnz, float* z, std::size_t ldz, std::size_t m, std::size_t n, std::size_t k,
               OpTally* tally) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t c = 0; c < k; ++c) {
      float acc = 0.0f;
      for (std::size_t j = 0; j < n; ++j) {
        if (!((nz[j * ldnz + c / kWordBits] >> (c % kWordBits)) & 1)) continue;
        const bool neg = (s[j * lds + c / kWordBits] >> (c % kWordBits)) & 1;
        acc = neg ? acc - g[i * ldg + j] : acc + g[i * ldg + j];
        if (tally) tally->additions += 1;
      }
      z[i * ldz + c] = acc;
    }
  }
}

}  // namespace

void ternary_weight_matmul_t__scalar(const float* g, std::size_t ldg, const word_t* s, std::size_t lds,
                                     const word_t* nz, std::size_t ldnz, float* z, std::size_t ldz, std::size_t m,
                                     std::size_t n, std::size_t k) {
  reference(g, ldg, s, lds, nz, ldnz, z, ldz, m, n, k, nullptr);
  fix_zero_weights_transposed(g, ldg, nz, ldnz, z, ldz, m, n, k);
}

void ternary_weight_matmul_t__counted(const float* g, std::size_t ldg, const word_t* s, std::size_t lds,
                                      const word_t* nz, std::size_t ldnz, float* z, std::size_t ldz, std::size_t m,
                                      std::size_t n, std::size_t k, OpTally* tally) {
  reference(g, ldg, s, lds, nz, ldnz, z, ldz, m, n, k, tally);
  fix_zero_weights_transposed(g, ldg, nz, ldnz, z, ldz, m, n, k);
}

}  // namespace pbn
