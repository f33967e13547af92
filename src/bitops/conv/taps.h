// The taps of one output pixel of the first conv layer, shared by its
// variants: fn(px, j) for each kernel position (ky, kx) inside the image, in
// (ky, kx) order, with px the tap's `channels` input floats (NHWC, s.words =
// channels) and j = (ky * kw + kx) * channels its first tap index; zero-padded
// taps are skipped (they add nothing).
#pragma once

#include "../kernels.h"

namespace pbn {
namespace {

template <class Fn>
PBN_INLINE void for_each_tap(const float* x, const ConvShape& s, std::size_t r, const Fn& fn) {
  const std::size_t c = s.words, img = r / (s.oh * s.ow), oy = r / s.ow % s.oh, ox = r % s.ow;
  for (std::size_t ky = 0; ky < s.kh; ++ky) {
    const std::size_t iy = oy * s.sh + ky;  // iy - ph, kept unsigned
    if (iy < s.ph || iy - s.ph >= s.h) continue;
    for (std::size_t kx = 0; kx < s.kw; ++kx) {
      const std::size_t ix = ox * s.sw + kx;
      if (ix < s.pw || ix - s.pw >= s.w) continue;
      fn(x + ((img * s.h + (iy - s.ph)) * s.w + (ix - s.pw)) * c, (ky * s.kw + kx) * c);
    }
  }
}

}  // namespace
}  // namespace pbn
