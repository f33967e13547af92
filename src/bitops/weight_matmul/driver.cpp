#include "driver.h"

#include <algorithm>

#include "../threads.h"
#include "dword_panels.h"

namespace pbn {
namespace driver {

namespace {

// Forward: output columns per chunk in whole 16-row blocks of the table kernel (at batch 1 it
// takes 32 per call on AVX-512; a chunk ending inside those only pads the last call);
// rows at multiples of 4. Every table-kernel panel (1-4 rows, and the wide
// panels of 8 or 16) sums a row in one order, so results do not depend on threads.
// One chunk per thread: the binary table kernel rebuilds x's subset-sum tables
// in every chunk (16 chunks ran 11% slower than 2 at 100x4096x4096), and the
// ternary kernel's 16 chunks ran 3% slower than 2; columns split evenly.
constexpr Cut kForwardCut{4, 16, false, 1};
// Transposed: rows first (whole 8-row passes of the table kernel), each chunk
// then builds its tables for its own rows only; output columns at whole words
// (the kernels take the weights from the word holding column 0).
constexpr Cut kTransposedCut{8, kWordBits, true};
// The binary table kernel's chunks each stream all of W: one per thread
// (13 chunks: 3.9 ms at 100x4096x4096 on 2 threads, 1 per thread: 3.7 ms).
constexpr Cut kBinaryTransposedCut{8, kWordBits, true, 1};
// Cost model (threads.h): ns per multiply-free (row, weight row, column) term
// on one core, fastest ISA (Zen 5, AVX-512): binary ~0.005 (100 x 4096 x 4096:
// forward 10 ms, transposed 6.6 ms), ternary ~0.016 (masked adds: 26 ms),
// ternary transposed by tables (variants.inc: m >= 16 && k >= 128) ~0.0057 (9.5 ms),
// uint8 pixels ~0.0017 (128 pairs per permute + add).
constexpr double kNsPerBinaryTerm = 0.005;
constexpr double kNsPerTernaryTerm = 0.016;
constexpr double kNsPerTernaryTableTerm = 0.0057;
constexpr double kNsPerPixelTerm = 0.0017;

// The product of rows [i0, i1) x columns [j0, j1) by `product(r0, r1)`, then the epilogue, in row
// chunks of ~256 KiB of output (at least 16 rows: the table kernels' wide panels) so that the second
// pass reads the chunk from L2: the CIFAR-10 net's first conv writes 26 MB, and numpy's
// `y += bias` after it was a second trip through memory on one thread (2.3 ms of its 8.6). Not
// smaller: the short-row kernel (narrow.h) builds a sign table per call.
template <class Product>
void with_epilogue(const Affine& e, float* y, std::size_t ldy, std::size_t i0, std::size_t i1, std::size_t j0,
                   std::size_t j1, const Product& product) {
  if (!e.active()) return product(i0, i1);
  const std::size_t per_chunk = std::max<std::size_t>(16, (65536 / std::max<std::size_t>(1, j1 - j0)) / 16 * 16);
  for (std::size_t r0 = i0; r0 < i1; r0 += per_chunk) {
    const std::size_t r1 = std::min(i1, r0 + per_chunk);
    product(r0, r1);
    for (std::size_t i = r0; i < r1; ++i) {
      float* row = y + i * ldy;
      if (e.scale != 1.0f)
        for (std::size_t j = j0; j < j1; ++j) row[j] *= e.scale;
      if (e.bias)
        for (std::size_t j = j0; j < j1; ++j) row[j] += e.bias[j];
    }
  }
}

}  // namespace

double weight_matmul_ns(std::size_t m, const WeightBits& w, std::size_t k) {
  return double(m) * double(w.n) * double(k) * (w.nz ? kNsPerTernaryTerm : kNsPerBinaryTerm);
}

void weight_matmul(const Target& t, const float* x, std::size_t ldx, const WeightBits& w, float* y, std::size_t ldy,
                   std::size_t m, std::size_t k, Affine epilogue) {
  const Shape shape{m, w.n, k};
  const double ns = weight_matmul_ns(m, w, k);
  if (w.nz) {
    ternary_weight_matmul_fn* kernel = pbn::kernel<OpId::ternary_weight_matmul>(t, shape);
    split_2d(int(OpId::ternary_weight_matmul), m, w.n, ns, kForwardCut, [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
      with_epilogue(epilogue, y, ldy, i0, i1, j0, j1, [&](std::size_t r0, std::size_t r1) {
        kernel(x + r0 * ldx, ldx, w.s + j0 * w.lds, w.lds, w.nz + j0 * w.ldnz, w.ldnz, y + r0 * ldy + j0, ldy,
               r1 - r0, j1 - j0, k);
      });
    });
  } else {
    binary_weight_matmul_fn* kernel = pbn::kernel<OpId::binary_weight_matmul>(t, shape);
    const bool panels = w.panels && kernel == &binary_weight_matmul_lut__avx512;
    split_2d(int(OpId::binary_weight_matmul), m, w.n, ns, kForwardCut, [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
      with_epilogue(epilogue, y, ldy, i0, i1, j0, j1, [&](std::size_t r0, std::size_t r1) {
        if (panels)  // j0: a multiple of 16 (kForwardCut)
          binary_weight_matmul_lut_panels__avx512(x + r0 * ldx, ldx, w.s + j0 * w.lds, w.lds,
                                                  w.panels + j0 * dword_panel_columns(k), y + r0 * ldy + j0, ldy,
                                                  r1 - r0, j1 - j0, k);
        else
          kernel(x + r0 * ldx, ldx, w.s + j0 * w.lds, w.lds, y + r0 * ldy + j0, ldy, r1 - r0, j1 - j0, k);
      });
    });
  }
}

double weight_matmul_t_ns(std::size_t m, const WeightBits& w, std::size_t k) {
  const double per_term = !w.nz ? kNsPerBinaryTerm : (m >= 16 && k >= 128) ? kNsPerTernaryTableTerm : kNsPerTernaryTerm;
  return double(m) * double(w.n) * double(k) * per_term;
}

void weight_matmul_t(const Target& t, const float* g, std::size_t ldg, const WeightBits& w, float* z,
                     std::size_t ldz, std::size_t m, std::size_t k) {
  const Shape shape{m, w.n, k};
  const double ns = weight_matmul_t_ns(m, w, k);
  if (w.nz) {
    ternary_weight_matmul_t_fn* kernel = pbn::kernel<OpId::ternary_weight_matmul_t>(t, shape);
    split_2d(int(OpId::ternary_weight_matmul_t), m, k, ns, kTransposedCut, [&](std::size_t i0, std::size_t i1, std::size_t c0, std::size_t c1) {
      const std::size_t q = c0 / kWordBits;
      kernel(g + i0 * ldg, ldg, w.s + q, w.lds, w.nz + q, w.ldnz, z + i0 * ldz + c0, ldz, i1 - i0, w.n, c1 - c0);
    });
  } else {
    binary_weight_matmul_t_fn* kernel = pbn::kernel<OpId::binary_weight_matmul_t>(t, shape);
    split_2d(int(OpId::binary_weight_matmul_t), m, k, ns, kBinaryTransposedCut, [&](std::size_t i0, std::size_t i1, std::size_t c0, std::size_t c1) {
      kernel(g + i0 * ldg, ldg, w.s + c0 / kWordBits, w.lds, z + i0 * ldz + c0, ldz, i1 - i0, w.n, c1 - c0);
    });
  }
}

void weight_matmul_counted(bool transposed, const float* a, std::size_t lda, const WeightBits& w, float* out,
                           std::size_t ldo, std::size_t m, std::size_t k, OpTally* tally) {
  weight_matmul__counted(transposed, a, lda, w.s, w.lds, w.nz, w.ldnz, out, ldo, m, w.n, k, tally);
}

double uint8_weight_matmul_ns(std::size_t m, std::size_t n, std::size_t k) {
  return double(m) * double(n) * double(k) * kNsPerPixelTerm;
}

void uint8_weight_matmul(const Target& t, const std::uint8_t* x, std::size_t ldx, const std::uint16_t* panels,
                         std::size_t chunks, std::int32_t* y, std::size_t ldy, std::size_t m, std::size_t n,
                         std::size_t k) {
  uint8_weight_matmul_fn* kernel = pbn::kernel<OpId::uint8_weight_matmul>(t, {m, n, k});
  // Output columns in whole 32-row panel blocks.
  split_2d(int(OpId::uint8_weight_matmul), m, n, uint8_weight_matmul_ns(m, n, k), Cut{1, 32, false},
           [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
             kernel(x + i0 * ldx, ldx, panels + j0 * chunks, chunks, y + i0 * ldy + j0, ldy, i1 - i0, j1 - j0, k);
           });
}

}  // namespace driver
}  // namespace pbn
