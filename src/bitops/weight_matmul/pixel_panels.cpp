#include "pixel_panels.h"

#include <cstring>

namespace pbn {

void pixel_panels(const word_t* w, std::size_t n, std::size_t k, std::uint16_t* panels) {
  const std::size_t words = words_for(k), chunks = pixel_panel_chunks(k);
  std::memset(panels, 0, pixel_panel_elements(n, k) * sizeof(std::uint16_t));
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t q = 0; q < chunks; ++q)  // bit contract: bit c of a row is bit c % 64 of word c / 64
      panels[((j / 32) * chunks + q) * 32 + j % 32] = std::uint16_t(w[j * words + q / 4] >> (16 * (q % 4)));
}

void weight_row_sums(const word_t* w, std::size_t n, std::size_t k, std::int32_t* sums) {
  const std::size_t words = words_for(k);
  for (std::size_t j = 0; j < n; ++j) {
    std::int64_t negatives = 0;  // padding bits are zero
    for (std::size_t q = 0; q < words; ++q) negatives += __builtin_popcountll(w[j * words + q]);
    sums[j] = std::int32_t(std::int64_t(k) - 2 * negatives);
  }
}

}  // namespace pbn
