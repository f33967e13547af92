// The gradient of float max-pooling with non-overlapping windows (stride >= size), compiled per ISA
// (maxpool_backward__<isa>.cpp), for images [i0, i1): dx = grad at every window position holding the
// window's maximum (ties: all of them, Theano's MaxPoolGrad), +0 elsewhere and outside every window
// (np.where(x == y, grad, 0) tap by tap, as nn.MaxPool2D's "all" ties; NaN never equals the maximum).
// Pointers at image 0; x and dx (images, s.h, s.w, s.words floats), y and grad (images, oh, ow, s.words).
#pragma once

#include "../kernels.h"

#define PBN_MAXPOOL_BACKWARD_VARIANT(name)                                                                   \
  void name(const float* x, const float* y, const float* grad, const ConvShape& s, float* dx, std::size_t i0, \
            std::size_t i1) {                                                                                \
    const std::size_t c = s.words;                                                                           \
    for (std::size_t n = i0; n < i1; ++n) {                                                                  \
      float* dimg = dx + n * s.h * s.w * c;                                                                  \
      for (std::size_t j = 0; j < s.h * s.w * c; ++j) dimg[j] = 0.0f;                                        \
      for (std::size_t oy = 0; oy < s.oh; ++oy)                                                              \
        for (std::size_t ox = 0; ox < s.ow; ++ox) {                                                          \
          const std::size_t o = ((n * s.oh + oy) * s.ow + ox) * c;                                           \
          for (std::size_t ky = 0; ky < s.kh; ++ky)                                                          \
            for (std::size_t kx = 0; kx < s.kw; ++kx) {                                                      \
              const std::size_t p = ((n * s.h + oy * s.sh + ky) * s.w + ox * s.sw + kx) * c;                 \
              for (std::size_t j = 0; j < c; ++j) dx[p + j] = x[p + j] == y[o + j] ? grad[o + j] : 0.0f;     \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
  }
