// im2col of packed NHWC bits, one span per kernel row: the in-range taps of a
// kernel row are consecutive pixels, i.e. one contiguous run of words in the
// input, so each is a single copy and only the out-of-range taps are zeroed.
// Pure data movement, vectorised by the compiler with this file's AVX2 flags
// (AVX-512 registers measured no faster: it takes this row too).
#include "../kernels.h"

namespace pbn {
namespace {

PBN_INLINE void copy_words(word_t* dst, const word_t* src, std::size_t n) {
  for (std::size_t q = 0; q < n; ++q) dst[q] = src[q];
}

PBN_INLINE void zero_words(word_t* dst, std::size_t n) {
  for (std::size_t q = 0; q < n; ++q) dst[q] = 0;
}

void im2col_rows(const word_t* x, const ConvShape& s, word_t* out, std::size_t ldo, std::size_t r0, std::size_t r1) {
  const std::size_t span = s.kw * s.words;
  for (std::size_t r = r0; r < r1; ++r) {
    const std::size_t n = r / (s.oh * s.ow), oy = r / s.ow % s.oh, ox = r % s.ow;
    word_t* row = out + (r - r0) * ldo;
    // Valid kx: pw <= ox * sw + kx < pw + w.
    const std::size_t x0 = ox * s.sw;
    const std::size_t kx0 = s.pw > x0 ? s.pw - x0 : 0;
    const std::size_t kx1 = s.pw + s.w > x0 ? min_sz(s.kw, s.pw + s.w - x0) : 0;
    for (std::size_t ky = 0; ky < s.kh; ++ky) {
      word_t* dst = row + ky * span;
      const std::size_t iy = oy * s.sh + ky;
      if (iy < s.ph || iy - s.ph >= s.h || kx0 >= kx1) {
        zero_words(dst, span);
        continue;
      }
      const word_t* src = x + ((n * s.h + (iy - s.ph)) * s.w + (x0 + kx0 - s.pw)) * s.words;
      zero_words(dst, kx0 * s.words);
      copy_words(dst + kx0 * s.words, src, (kx1 - kx0) * s.words);
      zero_words(dst + kx1 * s.words, (s.kw - kx1) * s.words);
    }
  }
}

}  // namespace

void im2col_bits_spans__avx2(const word_t* x, const ConvShape& s, word_t* out, std::size_t ldo, std::size_t r0,
                             std::size_t r1) {
  im2col_rows(x, s, out, ldo, r0, r1);
}

}  // namespace pbn
