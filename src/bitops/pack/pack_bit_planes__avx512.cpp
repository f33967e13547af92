// pack_bit_planes on AVX-512 (BW): 64 pixels per load, then one vptestnmb per plane gives its
// word (bytes whose bit p is clear); a masked load reads nothing past a row's end and leaves the
// padding bits zero.
#include <immintrin.h>

#include "../kernels.h"

namespace pbn {

void pack_bit_planes__avx512(const std::uint8_t* x, std::size_t ldx, std::size_t rows, std::size_t k, word_t* out,
                             std::size_t ldo, std::size_t plane_stride) {
  const std::size_t words = words_for(k);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t w = 0; w < words; ++w) {
      const std::size_t left = k - 64 * w;
      const __mmask64 live = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
      const __m512i v = _mm512_maskz_loadu_epi8(live, x + i * ldx + 64 * w);
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p)
        out[p * plane_stride + i * ldo + w] =
            _cvtmask64_u64(_mm512_mask_testn_epi8_mask(live, v, _mm512_set1_epi8(char(1 << p))));
    }
}

}  // namespace pbn
