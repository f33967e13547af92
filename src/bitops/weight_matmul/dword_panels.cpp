#include "dword_panels.h"

#include <cstring>

namespace pbn {

void dword_panels(const word_t* w, std::size_t lds, std::size_t n, std::size_t k, std::uint32_t* panels) {
  const std::size_t columns = dword_panel_columns(k);
  std::memset(panels, 0, dword_panel_elements(n, k) * sizeof(std::uint32_t));
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t c = 0; c < columns; ++c)  // bit contract: bit b of a row is bit b % 64 of word b / 64
      panels[((j / 16) * columns + c) * 16 + j % 16] = std::uint32_t(w[j * lds + c / 2] >> (32 * (c % 2)));
}

}  // namespace pbn
