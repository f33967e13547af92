// The first conv layer: the shared pixel loop (first_conv_rows.h); the reference).
#include <cstring>

#include "../kernels.h"

namespace pbn {
namespace {
#include "first_conv_rows.h"
}  // namespace

void first_conv_threshold__scalar(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw,
                                 std::size_t n, const float* thresholds, const word_t* flips, word_t* out,
                                 std::size_t r0, std::size_t r1) {
  float pos[1024];  // the driver limits n to 1024 filters
  first_conv_rows(x, s, wpos, ldw, n, thresholds, flips, out, r0, r1, pos);
}

}  // namespace pbn
