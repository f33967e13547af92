// The first conv layer, one pixel at a time with the filters innermost (the
// compiler vectorises the f loop as a masked add with each ISA's registers;
// AVX-512 has its own file). Shared by the scalar reference and the AVX2 file,
// inside an anonymous namespace. Sums in tap order, as kernels.h specifies.
void first_conv_rows(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw, std::size_t n,
                     const float* thresholds, const word_t* flips, word_t* out, std::size_t r0, std::size_t r1,
                     float* pos) {
  const std::size_t c = s.words, out_words = words_for(n);
  for (std::size_t r = r0; r < r1; ++r) {
    const std::size_t img = r / (s.oh * s.ow), oy = r / s.ow % s.oh, ox = r % s.ow;
    for (std::size_t f = 0; f < n; ++f) pos[f] = 0.0f;
    float all = 0.0f;
    for (std::size_t ky = 0; ky < s.kh; ++ky) {
      const std::size_t iy = oy * s.sh + ky;
      if (iy < s.ph || iy - s.ph >= s.h) continue;
      for (std::size_t kx = 0; kx < s.kw; ++kx) {
        const std::size_t ix = ox * s.sw + kx;
        if (ix < s.pw || ix - s.pw >= s.w) continue;
        const float* px = x + ((img * s.h + (iy - s.ph)) * s.w + (ix - s.pw)) * c;
        for (std::size_t ch = 0; ch < c; ++ch) {
          const word_t* plus = wpos + ((ky * s.kw + kx) * c + ch) * ldw;
          const float xv = px[ch];
          all += xv;
          for (std::size_t f = 0; f < n; ++f)
            if ((plus[f / 64] >> (f % 64)) & 1) pos[f] += xv;
        }
      }
    }
    word_t* o = out + r * out_words;
    for (std::size_t q = 0; q < out_words; ++q) o[q] = 0;
    for (std::size_t f = 0; f < n; ++f) {
      const float y = (pos[f] + pos[f]) - all;
      const bool flip = (flips[f / 64] >> (f % 64)) & 1;
      const bool negative = flip ? y > thresholds[f] : y < thresholds[f];
      o[f / 64] |= word_t(negative) << (f % 64);
    }
  }
}
