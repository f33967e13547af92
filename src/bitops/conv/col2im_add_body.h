// The body of col2im_add, compiled per ISA (col2im_add__<isa>.cpp): each
// patch row's taps added into the padded NHWC gradient. Tap by tap within an
// image, so every output element sums its terms in tap order (the order of the
// numpy loop this replaced: the same bits on every ISA). One image's output
// slab stays in L2 over its taps; the channel loop is what the flags vectorize.
#pragma once

#include "../kernels.h"

#define PBN_COL2IM_ADD_VARIANT(name)                                                                         \
  void name(const float* cols, const ConvShape& s, float* out, std::size_t i0, std::size_t i1) {             \
    const std::size_t c = s.words, taps = s.kh * s.kw, row = taps * c;                                       \
    for (std::size_t n = i0; n < i1; ++n) {                                                                  \
      const float* image_cols = cols + n * s.oh * s.ow * row;                                                \
      float* image_out = out + n * s.h * s.w * c;                                                            \
      for (std::size_t ky = 0; ky < s.kh; ++ky)                                                              \
        for (std::size_t kx = 0; kx < s.kw; ++kx) {                                                          \
          const float* src = image_cols + (ky * s.kw + kx) * c;                                              \
          for (std::size_t oy = 0; oy < s.oh; ++oy) {                                                        \
            float* dst = image_out + ((oy * s.sh + ky) * s.w + kx) * c;                                      \
            for (std::size_t ox = 0; ox < s.ow; ++ox, src += row, dst += s.sw * c)                           \
              for (std::size_t j = 0; j < c; ++j) dst[j] += src[j];                                          \
          }                                                                                                  \
        }                                                                                                    \
    }                                                                                                        \
  }
