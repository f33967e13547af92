// Reference: y[i, j] = sum over the nonzero weights of +x[i, c] or -x[i, c];
// zero weights are skipped (no operation at all).
#include "../kernels.h"
#include "../weight_matmul_fixup.h"

namespace pbn {
namespace {

void reference(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, const word_t* nz,
               std::size_t ldnz, float* y, std::size_t ldy, std::size_t m, std::size_t n, std::size_t k,
               OpTally* tally) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (std::size_t c = 0; c < k; ++c) {
        if (!((nz[j * ldnz + c / kWordBits] >> (c % kWordBits)) & 1)) continue;
        const bool neg = (s[j * lds + c / kWordBits] >> (c % kWordBits)) & 1;
        acc = neg ? acc - x[i * ldx + c] : acc + x[i * ldx + c];
        if (tally) tally->additions += 1;
      }
      y[i * ldy + j] = acc;
    }
  }
}

}  // namespace

void ternary_weight_matmul__scalar(const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                                   const word_t* nz, std::size_t ldnz, float* y, std::size_t ldy, std::size_t m,
                                   std::size_t n, std::size_t k) {
  reference(x, ldx, s, lds, nz, ldnz, y, ldy, m, n, k, nullptr);
  fix_zero_weights_forward(x, ldx, nz, ldnz, y, ldy, m, n, k);
}

void ternary_weight_matmul__counted(const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                                    const word_t* nz, std::size_t ldnz, float* y, std::size_t ldy, std::size_t m,
                                    std::size_t n, std::size_t k, OpTally* tally) {
  reference(x, ldx, s, lds, nz, ldnz, y, ldy, m, n, k, tally);
  fix_zero_weights_forward(x, ldx, nz, ldnz, y, ldy, m, n, k);
}

}  // namespace pbn
