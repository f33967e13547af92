// The body of col2im_add, compiled per ISA (col2im_add__<isa>.cpp): each
// patch row's taps added into the padded NHWC gradient. Tap by tap within an
// image, so every output element sums its terms in tap order (the order of the
// numpy loop this replaced: the same bits on every ISA). One image's output
// slab stays in L2 over its taps; the channel loop is what the flags vectorize.
// With padding, out is the unpadded gradient: a layer's input gradient comes
// out contiguous (no padded buffer to crop and copy before the next pass).
#pragma once

#include <algorithm>

#include "../kernels.h"

// First output row/column whose tap `k` lands inside the image (index o * stride + k - pad >= 0) and
// one past the last (< size): the taps that fall in the padding are skipped, not added and cropped.
inline void col2im_valid_range(std::size_t k, std::size_t stride, std::size_t pad, std::size_t size,
                               std::size_t outputs, std::size_t* lo, std::size_t* hi) {
  *lo = k >= pad ? 0 : (pad - k + stride - 1) / stride;
  *hi = size + pad <= k ? 0 : std::min(outputs, (size + pad - k + stride - 1) / stride);
  if (*hi < *lo) *hi = *lo;
}

#define PBN_COL2IM_ADD_VARIANT(name)                                                                         \
  void name(const float* cols, const ConvShape& s, float* out, std::size_t i0, std::size_t i1) {             \
    const std::size_t c = s.words, taps = s.kh * s.kw, row = taps * c;                                       \
    for (std::size_t n = i0; n < i1; ++n) {                                                                  \
      const float* image_cols = cols + n * s.oh * s.ow * row;                                                \
      float* image_out = out + n * s.h * s.w * c;                                                            \
      for (std::size_t ky = 0; ky < s.kh; ++ky) {                                                            \
        std::size_t oy0, oy1;                                                                                \
        col2im_valid_range(ky, s.sh, s.ph, s.h, s.oh, &oy0, &oy1);                                           \
        if (oy0 == oy1) continue;                                                                            \
        for (std::size_t kx = 0; kx < s.kw; ++kx) {                                                          \
          std::size_t ox0, ox1;                                                                              \
          col2im_valid_range(kx, s.sw, s.pw, s.w, s.ow, &ox0, &ox1);                                         \
          if (ox0 == ox1) continue;                                                                          \
          for (std::size_t oy = oy0; oy < oy1; ++oy) {                                                       \
            const float* src = image_cols + ((oy * s.ow + ox0) * taps + ky * s.kw + kx) * c;                 \
            float* dst = image_out + ((oy * s.sh + ky - s.ph) * s.w + ox0 * s.sw + kx - s.pw) * c;           \
            for (std::size_t ox = ox0; ox < ox1; ++ox, src += row, dst += s.sw * c)                          \
              for (std::size_t j = 0; j < c; ++j) dst[j] += src[j];                                          \
          }                                                                                                  \
        }                                                                                                    \
      }                                                                                                      \
    }                                                                                                        \
  }
