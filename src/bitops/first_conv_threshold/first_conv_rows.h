// The first conv layer, one pixel at a time with the filters innermost (the
// compiler vectorises the f loop with each ISA's registers; AVX-512 has its own
// file). Shared by the scalar reference and the AVX2 file, inside an anonymous
// namespace. The sums are float32 in (ky, kx, c) order for every filter.
void first_conv_rows(const float* x, const ConvShape& s, const std::uint32_t* wsign, std::size_t ldw, std::size_t n,
                     const float* thresholds, const word_t* flips, word_t* out, std::size_t r0, std::size_t r1,
                     float* acc) {
  const std::size_t c = s.words, out_words = words_for(n);
  for (std::size_t r = r0; r < r1; ++r) {
    const std::size_t img = r / (s.oh * s.ow), oy = r / s.ow % s.oh, ox = r % s.ow;
    for (std::size_t f = 0; f < n; ++f) acc[f] = 0.0f;
    for (std::size_t ky = 0; ky < s.kh; ++ky) {
      const std::size_t iy = oy * s.sh + ky;
      if (iy < s.ph || iy - s.ph >= s.h) continue;
      for (std::size_t kx = 0; kx < s.kw; ++kx) {
        const std::size_t ix = ox * s.sw + kx;
        if (ix < s.pw || ix - s.pw >= s.w) continue;
        const float* px = x + ((img * s.h + (iy - s.ph)) * s.w + (ix - s.pw)) * c;
        for (std::size_t ch = 0; ch < c; ++ch) {
          const std::uint32_t* sign = wsign + ((ky * s.kw + kx) * c + ch) * ldw;
          std::uint32_t xv;
          std::memcpy(&xv, px + ch, sizeof xv);
          for (std::size_t f = 0; f < n; ++f) {
            const std::uint32_t term = xv ^ sign[f];  // +-x: the weight's sign applied to the sign bit
            float t;
            std::memcpy(&t, &term, sizeof t);
            acc[f] += t;
          }
        }
      }
    }
    word_t* o = out + r * out_words;
    for (std::size_t q = 0; q < out_words; ++q) o[q] = 0;
    for (std::size_t f = 0; f < n; ++f) {
      const bool flip = (flips[f / 64] >> (f % 64)) & 1;
      const bool negative = flip ? acc[f] > thresholds[f] : acc[f] < thresholds[f];
      o[f / 64] |= word_t(negative) << (f % 64);
    }
  }
}
