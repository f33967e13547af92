// The transpose's reference: element by element, 16 rows of a at a time (so each
// line of out written is filled before the next: numpy's a.T copy without the
// cache misses of a whole column per output row).
#include "../kernels.h"

namespace pbn {

void transpose__scalar(const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t n, std::size_t i0,
                       std::size_t i1) {
  for (std::size_t b = i0; b < i1; b += 16) {
    const std::size_t e = b + 16 < i1 ? b + 16 : i1;
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t i = b; i < e; ++i) out[j * ldo + i] = a[i * lda + j];
  }
}

}  // namespace pbn
