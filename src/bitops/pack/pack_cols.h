// Packing, written once and included, inside an anonymous namespace, by
// each ISA's file so the compiler vectorizes it with that file's flags only.
#pragma once

template <class T>
bool pack_cols(const T* x, std::size_t k, std::size_t inner, pbn::word_t* out, std::size_t i0, std::size_t i1) {
  using pbn::word_t;
  constexpr std::size_t kBlock = 256;  // columns per pass: keeps the output words in L1
  const std::size_t words = pbn::words_for(k);
  unsigned char nan = 0;
  for (std::size_t c0 = i0; c0 < i1; c0 += kBlock) {
    const std::size_t c1 = c0 + kBlock < i1 ? c0 + kBlock : i1;
    for (std::size_t w = 0; w < words; ++w) {
      word_t* o = out + w * inner;
      for (std::size_t i = c0; i < c1; ++i) o[i] = 0;
      const std::size_t nb = k - w * pbn::kWordBits < 64 ? k - w * pbn::kWordBits : 64;
      for (std::size_t b = 0; b < nb; ++b) {
        const T* row = x + (w * pbn::kWordBits + b) * inner;
        for (std::size_t i = c0; i < c1; ++i) {
          o[i] |= word_t(row[i] < 0) << b;
          nan |= row[i] != row[i];
        }
      }
    }
  }
  return nan != 0;
}

// Rows (inner == 1) via `word(p, n, nan)`, which packs n <= 64 elements into one word.
template <class T, class WordFn>
bool pack_rows(const T* x, std::size_t k, pbn::word_t* out, std::size_t o0, std::size_t o1, WordFn word) {
  const std::size_t words = pbn::words_for(k);
  bool nan = false;
  for (std::size_t o = o0; o < o1; ++o) {
    const T* row = x + o * k;
    pbn::word_t* dst = out + o * words;
    for (std::size_t w = 0; w < words; ++w) {
      const std::size_t n = k - w * pbn::kWordBits < 64 ? k - w * pbn::kWordBits : 64;
      dst[w] = word(row + w * pbn::kWordBits, n, nan);
    }
  }
  return nan;
}

// The whole op for one dtype: rows through the ISA's `word`, columns through pack_cols.
template <class T, class WordFn>
bool pack_any(const void* x, std::size_t k, std::size_t inner, pbn::word_t* out, std::size_t o0, std::size_t o1,
              std::size_t i0, std::size_t i1, WordFn word) {
  const T* xt = static_cast<const T*>(x);
  if (inner == 1) return pack_rows(xt, k, out, o0, o1, word);
  const std::size_t words = pbn::words_for(k);
  bool nan = false;
  for (std::size_t o = o0; o < o1; ++o) nan |= pack_cols(xt + o * k * inner, k, inner, out + o * words * inner, i0, i1);
  return nan;
}
