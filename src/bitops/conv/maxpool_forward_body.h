// Float max-pooling (no padding; windows may overlap), compiled per ISA (maxpool_forward__<isa>.cpp),
// for images [i0, i1): each output pixel starts as its window's first tap and takes the others in
// (ky, kx) order by numpy's np.maximum rule, y = (y > v || y != y) ? y : v: a NaN (in y or the tap)
// propagates, a tie takes the later tap, so the bits are np.maximum's over nn.MaxPool2D's tap views.
// The channel loop is what the flags vectorize (a compare and a blend). Pointers at image 0; x
// (images, s.h, s.w, s.words floats), y (images, oh, ow, s.words).
#pragma once

#include "../kernels.h"

#define PBN_MAXPOOL_FORWARD_VARIANT(name)                                                                     \
  void name(const float* x, const ConvShape& s, float* y, std::size_t i0, std::size_t i1) {                  \
    const std::size_t c = s.words;                                                                           \
    for (std::size_t n = i0; n < i1; ++n)                                                                    \
      for (std::size_t oy = 0; oy < s.oh; ++oy)                                                              \
        for (std::size_t ox = 0; ox < s.ow; ++ox) {                                                          \
          float* out = y + ((n * s.oh + oy) * s.ow + ox) * c;                                                \
          const float* first = x + ((n * s.h + oy * s.sh) * s.w + ox * s.sw) * c;                            \
          for (std::size_t j = 0; j < c; ++j) out[j] = first[j];                                             \
          for (std::size_t t = 1; t < s.kh * s.kw; ++t) {                                                    \
            const float* v = first + ((t / s.kw) * s.w + t % s.kw) * c;                                      \
            for (std::size_t j = 0; j < c; ++j) out[j] = (out[j] > v[j] || out[j] != out[j]) ? out[j] : v[j]; \
          }                                                                                                  \
        }                                                                                                    \
  }
