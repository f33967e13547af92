// Reference: per output pixel and word, the AND and the OR of the window,
// chosen per channel bit by the flip mask (pool_rows.h, shared with the ISA files).
#include "../kernels.h"

namespace pbn {
namespace {
#include "pool_rows.h"
}  // namespace

void maxpool_bits__scalar(const word_t* x, const ConvShape& s, const word_t* flips, word_t* out, std::size_t r0,
                          std::size_t r1) {
  pool_rows(x, s, flips, out, r0, r1);
}

}  // namespace pbn
