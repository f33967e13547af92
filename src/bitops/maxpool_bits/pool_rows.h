// Max-pooling of packed bits, words innermost so the compiler vectorises the
// AND/OR over a pixel's channel words with each ISA's registers (the AVX2 and
// AVX-512 files include this same body inside an anonymous namespace).
void pool_rows(const word_t* x, const ConvShape& s, const word_t* flips, word_t* out, std::size_t r0,
               std::size_t r1) {
  const std::size_t wq = s.words;
  for (std::size_t r = r0; r < r1; ++r) {
    const std::size_t n = r / (s.oh * s.ow), oy = r / s.ow % s.oh, ox = r % s.ow;
    word_t* o = out + r * wq;
    const word_t* first = x + ((n * s.h + oy * s.sh) * s.w + ox * s.sw) * wq;
    for (std::size_t q = 0; q < wq; ++q) o[q] = first[q];  // the AND, for now
    for (std::size_t ky = 0; ky < s.kh; ++ky)
      for (std::size_t kx = (ky == 0); kx < s.kw; ++kx) {
        const word_t* v = x + ((n * s.h + oy * s.sh + ky) * s.w + ox * s.sw + kx) * wq;
        for (std::size_t q = 0; q < wq; ++q) o[q] &= v[q];
      }
    if (!flips) continue;
    for (std::size_t q = 0; q < wq; ++q) {
      if (!flips[q]) continue;
      word_t any = 0;
      for (std::size_t ky = 0; ky < s.kh; ++ky)
        for (std::size_t kx = 0; kx < s.kw; ++kx) any |= x[((n * s.h + oy * s.sh + ky) * s.w + ox * s.sw + kx) * wq + q];
      o[q] = (o[q] & ~flips[q]) | (any & flips[q]);
    }
  }
}
