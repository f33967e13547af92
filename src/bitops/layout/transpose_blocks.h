// The loop nest of the SIMD transposes (transpose__<isa>.cpp), written once over
// the tile size: blocks of 1024 rows of a, within a block column strips of kTile,
// each strip's tiles down the block, so out gets kTile rows of 4 KiB per strip (a
// block's strip of a is read from L2). Column by column over all rows instead,
// out's rows (m floats apart: a multiple of 4 KiB for m = 51200) fall in one L1
// set: 2.2x slower at 51200 x 128. Partial tiles at the edges go element by element.
// Included by each ISA's file (internal linkage, that file's flags).
#pragma once

#include "../kernels.h"

namespace pbn {
namespace {

constexpr std::size_t kTransposeBlockRows = 1024;

// out[j * ldo + i] = a[i * lda + j] for rows [i0, i1) of a; tile(a, lda, out, ldo) does a kTile square.
template <std::size_t kTile, class Tile>
void transpose_blocks(const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t n, std::size_t i0,
                      std::size_t i1, Tile tile) {
  const std::size_t nt = n / kTile * kTile;
  for (std::size_t b = i0; b < i1; b += kTransposeBlockRows) {
    const std::size_t e = b + kTransposeBlockRows < i1 ? b + kTransposeBlockRows : i1;
    const std::size_t et = b + (e - b) / kTile * kTile;
    for (std::size_t j = 0; j < nt; j += kTile)
      for (std::size_t i = b; i < et; i += kTile) tile(a + i * lda + j, lda, out + j * ldo + i, ldo);
    for (std::size_t j = nt; j < n; ++j)  // the last columns
      for (std::size_t i = b; i < e; ++i) out[j * ldo + i] = a[i * lda + j];
    for (std::size_t j = 0; j < nt; ++j)  // the block's last rows
      for (std::size_t i = et; i < e; ++i) out[j * ldo + i] = a[i * lda + j];
  }
}

}  // namespace
}  // namespace pbn
