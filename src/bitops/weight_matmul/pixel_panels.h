// The weight side of uint8_weight_matmul and bitplane_matmul, derived once per
// model from packed +-1 rows: the one derivation behind
// pybitnet.first_layer.pixel_panels / weight_row_sums and the native MLP
// (inference/packed_mlp.cpp). Plain loops: it runs once, not per call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../bits.h"

namespace pbn {

// 16-bit chunks of a row of k bits in the panels: ceil(k / 16).
inline std::size_t pixel_panel_chunks(std::size_t k) { return (k + 15) / 16; }
// uint16 elements of the panels of n rows of k bits: ceil(n / 32) * ceil(k / 16) * 32.
inline std::size_t pixel_panel_elements(std::size_t n, std::size_t k) { return (n + 31) / 32 * pixel_panel_chunks(k) * 32; }

// panels[r][q][l] = bits 16q .. 16q + 15 of row 32r + l (zero past n); writes all
// pixel_panel_elements(n, k) of `panels`. w: n rows of words_for(k) words.
void pixel_panels(const word_t* w, std::size_t n, std::size_t k, std::uint16_t* panels);

// sums[j] = k - 2 * (number of -1 weights in row j), the row's sum of +-1.
void weight_row_sums(const word_t* w, std::size_t n, std::size_t k, std::int32_t* sums);

}  // namespace pbn
