// The float first layer's weight bits in the order binary_weight_matmul_lut__avx512's lookups read
// them, derived once by a model that holds its weights (inference/packed_mlp.cpp): per group of 16
// rows, dword column c of all 16 rows side by side, so that one 64-byte load is a lookup index of
// 16 rows (the kernel otherwise transposes 16 rows' bits per block of 512 columns on every call).
// Plain loops: it runs once, not per call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../bits.h"

namespace pbn {

// 32-bit columns of a row of k bits: ceil(k / 32).
inline std::size_t dword_panel_columns(std::size_t k) { return (k + 31) / 32; }
// uint32 elements of the panels of n rows of k bits: ceil(n / 16) * ceil(k / 32) * 16.
inline std::size_t dword_panel_elements(std::size_t n, std::size_t k) {
  return (n + 15) / 16 * dword_panel_columns(k) * 16;
}

// panels[g][c][l] = bits 32c .. 32c + 31 of row 16g + l (zero past n); writes all
// dword_panel_elements(n, k) of `panels`. w: n rows of lds >= words_for(k) words.
void dword_panels(const word_t* w, std::size_t lds, std::size_t n, std::size_t k, std::uint32_t* panels);

// binary_weight_matmul_lut__avx512 (y = x @ sign(W).T, the same tables, chains and bits), its
// lookups reading `panels` (dword_panels of s; 64-byte aligned, offset for a column range by
// j0 / 16 groups with j0 a multiple of 16) instead of transposing s. s still serves its panels of
// 16 rows of x and the redo of non-finite rows. Not a registry variant: a layout of that one,
// taken by the drivers when the registry picks it (weight_matmul/driver.h).
void binary_weight_matmul_lut_panels__avx512(const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                                             const std::uint32_t* panels, float* y, std::size_t ldy, std::size_t m,
                                             std::size_t n, std::size_t k)
#if !(defined(__x86_64__) || defined(_M_X64))
    __attribute__((weak))
#endif
    ;

}  // namespace pbn
