// im2col of packed bits compiled for AVX2: the shared span-copy body (im2col_rows.h).
#include "../kernels.h"

namespace pbn {
namespace {
#include "im2col_rows.h"
}  // namespace

void im2col_bits__avx2(const word_t* x, const ConvShape& s, word_t* out, std::size_t ldo, std::size_t r0,
                        std::size_t r1) {
  im2col_rows(x, s, out, ldo, r0, r1);
}

}  // namespace pbn
