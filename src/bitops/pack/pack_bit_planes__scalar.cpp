// Reference of pack_bit_planes (kernels.h): one pixel at a time, bit b of word w of plane p set
// where bit p of pixel 64 w + b is clear (the plane's value there is -1).
#include "../kernels.h"

namespace pbn {

void pack_bit_planes__scalar(const std::uint8_t* x, std::size_t ldx, std::size_t rows, std::size_t k, word_t* out,
                             std::size_t ldo, std::size_t plane_stride) {
  const std::size_t words = words_for(k);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t p = 0; p < 8; ++p)
      for (std::size_t w = 0; w < words; ++w) {
        word_t bits = 0;
        for (std::size_t b = 0; b < 64 && 64 * w + b < k; ++b)
          bits |= word_t(((x[i * ldx + 64 * w + b] >> p) & 1) == 0) << b;
        out[p * plane_stride + i * ldo + w] = bits;
      }
}

}  // namespace pbn
