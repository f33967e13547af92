// Max-pooling of packed bits compiled for AVX2: the shared body (pool_rows.h).
#include "../kernels.h"

namespace pbn {
namespace {
#include "pool_rows.h"
}  // namespace

void maxpool_bits__avx2(const word_t* x, const ConvShape& s, const word_t* flips, word_t* out, std::size_t r0,
                         std::size_t r1) {
  pool_rows(x, s, flips, out, r0, r1);
}

}  // namespace pbn
