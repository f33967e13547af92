// The references of the weight-matmul family: every output summed term by term
// in order, one addition or subtraction per nonzero weight (zero weights are
// skipped: no operation at all). One loop serves the four ops:
//   forward     y[i, o] = sum over c < k of w[o, c] x[i, c]   (outputs o < n)
//   transposed  z[i, o] = sum over j < n of w[j, o] g[i, j]   (outputs o < k)
// The __counted forms add every addition they do to a tally (tests hold
// pybitnet.opcount's formulas against them).
#include "../kernels.h"
#include "fixup.h"

namespace pbn {
namespace {

// w[j, c]: 0, +1 or -1 (sign bits s; nonzero bits nz, or null for +-1 weights).
PBN_INLINE int weight(const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz, std::size_t j,
                      std::size_t c) {
  if (nz && !((nz[j * ldnz + c / kWordBits] >> (c % kWordBits)) & 1)) return 0;
  return (s[j * lds + c / kWordBits] >> (c % kWordBits)) & 1 ? -1 : 1;
}

void reference(bool transposed, const float* a, std::size_t lda, const word_t* s, std::size_t lds, const word_t* nz,
               std::size_t ldnz, float* out, std::size_t ldo, std::size_t m, std::size_t n, std::size_t k,
               OpTally* tally) {
  const std::size_t outputs = transposed ? k : n, terms = transposed ? n : k;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t o = 0; o < outputs; ++o) {
      float acc = 0.0f;
      for (std::size_t r = 0; r < terms; ++r) {
        const int w = transposed ? weight(s, lds, nz, ldnz, r, o) : weight(s, lds, nz, ldnz, o, r);
        if (w == 0) continue;
        acc = w < 0 ? acc - a[i * lda + r] : acc + a[i * lda + r];
        if (tally) tally->additions += 1;
      }
      out[i * ldo + o] = acc;
    }
  }
  if (nz && transposed) fix_zero_weights_transposed(a, lda, nz, ldnz, out, ldo, m, n, k);
  if (nz && !transposed) fix_zero_weights_forward(a, lda, nz, ldnz, out, ldo, m, n, k);
}

}  // namespace

void binary_weight_matmul__scalar(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                  std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  reference(false, x, ldx, s, lds, nullptr, 0, y, ldy, m, n, k, nullptr);
}

void binary_weight_matmul_t__scalar(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                    std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  reference(true, g, ldg, s, lds, nullptr, 0, z, ldz, m, n, k, nullptr);
}

void ternary_weight_matmul__scalar(const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                                   const word_t* nz, std::size_t ldnz, float* y, std::size_t ldy, std::size_t m,
                                   std::size_t n, std::size_t k) {
  reference(false, x, ldx, s, lds, nz, ldnz, y, ldy, m, n, k, nullptr);
}

void ternary_weight_matmul_t__scalar(const float* g, std::size_t ldg, const word_t* s, std::size_t lds,
                                     const word_t* nz, std::size_t ldnz, float* z, std::size_t ldz, std::size_t m,
                                     std::size_t n, std::size_t k) {
  reference(true, g, ldg, s, lds, nz, ldnz, z, ldz, m, n, k, nullptr);
}

void weight_matmul__counted(bool transposed, const float* a, std::size_t lda, const word_t* s, std::size_t lds,
                            const word_t* nz, std::size_t ldnz, float* out, std::size_t ldo, std::size_t m,
                            std::size_t n, std::size_t k, OpTally* tally) {
  reference(transposed, a, lda, s, lds, nz, ldnz, out, ldo, m, n, k, tally);
}

}  // namespace pbn
