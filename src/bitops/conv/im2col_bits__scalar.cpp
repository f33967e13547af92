// Reference: one word of one tap at a time; a tap outside the input is a
// zero word (+1 under the bit contract).
#include "../kernels.h"

namespace pbn {

void im2col_bits__scalar(const word_t* x, const ConvShape& s, word_t* out, std::size_t ldo, std::size_t r0,
                         std::size_t r1) {
  for (std::size_t r = r0; r < r1; ++r) {
    const std::size_t n = r / (s.oh * s.ow), oy = r / s.ow % s.oh, ox = r % s.ow;
    word_t* row = out + (r - r0) * ldo;
    for (std::size_t ky = 0; ky < s.kh; ++ky)
      for (std::size_t kx = 0; kx < s.kw; ++kx)
        for (std::size_t q = 0; q < s.words; ++q) {
          // iy = oy * sh - ph + ky, computed without going negative in size_t.
          const std::size_t iy = oy * s.sh + ky, ix = ox * s.sw + kx;
          const bool inside = iy >= s.ph && iy - s.ph < s.h && ix >= s.pw && ix - s.pw < s.w;
          row[(ky * s.kw + kx) * s.words + q] =
              inside ? x[((n * s.h + (iy - s.ph)) * s.w + (ix - s.pw)) * s.words + q] : 0;
        }
  }
}

}  // namespace pbn
