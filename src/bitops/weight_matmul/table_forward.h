// The forward weight matmul by subset-sum tables, y = x @ sign(W).T, with no
// multiplication: the loop nest, written once over an ISA's table policy `T`
// (binary_weight_matmul_lut__avx512.cpp: 16-entry vpermps tables of 4 columns,
// 16 weight rows per lookup; binary_weight_matmul_lut__avx2.cpp: 8-entry tables
// of 3 columns, 8 rows). y[i, j] = rowsum(x_i) - 2 * sum_{bit=1} x[i, c]: per
// block of T::kBlockK columns, T::build_tables makes each row of x's tables
// once, then T::lut_block adds the sums over the set bits of G * T::kRows weight
// rows per call, T::kRows per lookup (their bits transposed so that lane j holds
// row j), for a panel of MR rows of x. The row sums come once per panel
// (masked_add.h's row_sums); rows with a non-finite output are redone in exact
// order (fixup.h).
// T provides: kBlockK, kRows, kOneRowGroups (G for one row of x; more rows take
// G = 1), kTableFloats (one row of x's tables), S (the SIMD helpers for
// row_sums), build_tables(x, cols, tables) and
// lut_block<MR, G>(tables, s, lds, w0, cols, rows, neg, ldy) for rows <= G * kRows (G groups
// of kRows weight rows, each with its own chains); and kWideRows: 0, or
// the rows of x of a wide_panel(x, ldx, s, lds, y, ldy, n, k), taken first, that
// must sum each row as the panels of 4 do. The panels of 4 and fewer rows
// read the bits through a Bits source: RowBits (rows of s, transposed per call
// by lut_block) or a policy's layout made once (the AVX-512 dword panels).
// Included by each ISA's file (internal linkage, that file's flags).
#pragma once

#include <immintrin.h>

#include "masked_add.h"

namespace pbn {
namespace {

// Where table_panel's lookups read the weight bits: rows of s, whose bits T::lut_block transposes
// per call. (A policy may offer a layout made once instead: the AVX-512 file's dword panels.)
template <class T>
struct RowBits {
  static constexpr bool kRowsOuter = false;  // (table_panel)
  const word_t* s;
  std::size_t lds;

  template <int MR, int G>
  void block(const float* tables, std::size_t j, std::size_t w0, std::size_t cols, std::size_t rows, float* y,
             std::size_t ldy) const {
    T::template lut_block<MR, G>(tables, s + j * lds, lds, w0, cols, rows, y, ldy);
  }
  // The bits of rows [r0, r1) of the block at word w0: rows lds words apart defeat the hardware
  // prefetcher (batch 1 from cold weights ran at ~8 GB/s).
  void prefetch(std::size_t r0, std::size_t r1, std::size_t w0, std::size_t cols) const {
    const std::size_t bytes = (cols + 7) / 8;
    for (std::size_t r = r0; r < r1; ++r) {
      const char* p = reinterpret_cast<const char*>(s + r * lds + w0);
      for (std::size_t b = 0; b < bytes; b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
      _mm_prefetch(p + bytes - 1, _MM_HINT_T0);
    }
  }
};

// y holds the sums of x over each row's set bits: x . sign(w) = sum(x) - 2 * that.
template <class T, int MR>
void table_finish(const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t n, std::size_t k) {
  float sums[MR];
  row_sums<typename T::S, MR>(x, ldx, k, sums);
  for (int i = 0; i < MR; ++i)
    for (std::size_t j = 0; j < n; ++j) y[i * ldy + j] = sums[i] - (y[i * ldy + j] + y[i * ldy + j]);
}

template <class T, int MR, class Bits>
void table_panel(const float* x, std::size_t ldx, const Bits& bits, float* y, std::size_t ldy, std::size_t n,
                 std::size_t k) {
  // One row of x: T::kOneRowGroups groups of weight rows per lut_block, whose independent
  // chains hide the adds' latency (with one group, batch 1 waited on two chains per 16 rows).
  constexpr int kRowGroups = MR == 1 ? T::kOneRowGroups : 1;
  constexpr std::size_t kStep = kRowGroups * T::kRows;
  for (int i = 0; i < MR; ++i)
    for (std::size_t j = 0; j < n; ++j) y[i * ldy + j] = 0.0f;
  // From a source whose bits are laid out for it (Bits::kRowsOuter), one row of x whose tables for
  // every block fit in 32 KiB (batch 1; the MNIST first layer: 2 blocks, 16 KiB): weight rows
  // outer, blocks inner, so that the bits stream in address order (blocks outer read them in one
  // strided pass per block: from DRAM, 1x784 -> 4096 from dword panels 40-47 us against 28-31,
  // Zen 5; rows of s gained nothing so, and lost ~1 us warm). Each output still adds its blocks'
  // sums in block order: the same bits.
  constexpr std::size_t kAllBlocks = 32768 / (T::kTableFloats * sizeof(float));
  if constexpr (Bits::kRowsOuter && MR == 1 && kAllBlocks > 1) {
    const std::size_t blocks = (k + T::kBlockK - 1) / T::kBlockK;
    if (blocks <= kAllBlocks) {
      alignas(64) float tables[kAllBlocks][T::kTableFloats];
      for (std::size_t b = 0; b < blocks; ++b)
        T::build_tables(x + b * T::kBlockK, min_sz(k - b * T::kBlockK, T::kBlockK), tables[b]);
      for (std::size_t j = 0; j < n; j += kStep) {
        bits.prefetch(j + kStep, min_sz(n, j + 2 * kStep), 0, k);  // the next rows, whole
        for (std::size_t b = 0; b < blocks; ++b)
          bits.template block<MR, kRowGroups>(tables[b], j, b * T::kBlockK / kWordBits,
                                              min_sz(k - b * T::kBlockK, T::kBlockK), min_sz(n - j, kStep), y + j,
                                              ldy);
      }
      table_finish<T, MR>(x, ldx, y, ldy, n, k);
      return;
    }
  }
  alignas(64) float tables[MR][T::kTableFloats];
  for (std::size_t c0 = 0; c0 < k; c0 += T::kBlockK) {
    const std::size_t cols = min_sz(k - c0, T::kBlockK);
    for (int i = 0; i < MR; ++i) T::build_tables(x + i * ldx + c0, cols, tables[i]);
    const std::size_t w0 = c0 / kWordBits;
    for (std::size_t j = 0; j < n; j += kStep) {
      bits.prefetch(j + kStep, min_sz(n, j + 2 * kStep), w0, cols);  // the next block of rows
      bits.template block<MR, kRowGroups>(tables[0], j, w0, cols, min_sz(n - j, kStep), y + j, ldy);
    }
  }
  table_finish<T, MR>(x, ldx, y, ldy, n, k);
}

// y (m x n) = x (m x k) @ sign(W).T for packed rows s of W (n x k): the policy's wide panels
// first, if any, then panels of 4 rows of x (the tables' lane chains sum each row in one order,
// so the last 1-3 rows, and the rows of a wide panel, give the same bits). The panels of 4 and
// fewer rows read the bits through `bits` (RowBits: from s); wide panels and the fixup of
// non-finite rows read s.
template <class T, class Bits>
void table_forward(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, const Bits& bits, float* y,
                   std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  constexpr int kMR = 4;
  std::size_t i = 0;
  if constexpr (T::kWideRows > 0)  // a policy's panels of more rows of x, in the same order per row
    for (; i + T::kWideRows <= m; i += T::kWideRows) {
      if (!T::wide_panel(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, n, k)) break;
      fix_nonfinite_forward(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, T::kWideRows, n, k);
    }
  for (; i + kMR <= m; i += kMR) {
    table_panel<T, kMR>(x + i * ldx, ldx, bits, y + i * ldy, ldy, n, k);
    fix_nonfinite_forward(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, kMR, n, k);  // while in cache
  }
  with_count<kMR - 1>(m - i, [&](auto mr) {
    table_panel<T, decltype(mr)::value>(x + i * ldx, ldx, bits, y + i * ldy, ldy, n, k);
  });
  fix_nonfinite_forward(x + i * ldx, ldx, s, lds, y + i * ldy, ldy, m - i, n, k);
}

template <class T>
void table_forward(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y, std::size_t ldy,
                   std::size_t m, std::size_t n, std::size_t k) {
  table_forward<T>(x, ldx, s, lds, RowBits<T>{s, lds}, y, ldy, m, n, k);
}

}  // namespace
}  // namespace pbn
