// The masked-add kernels of the weight-matmul family, written once over an
// ISA's SIMD helpers S (simd/avx2.h, simd/avx512.h) and a weight operand W
// (binary +-1 or ternary -1/0/+1, below), for both directions:
//
// forward     y[i, j] = sum_c w[j, c] x[i, c]: lanes run along K; an MR x NR
//             tile of outputs (MR rows of x, NR weight rows) accumulates, per
//             L-lane chunk t of K, the chunk of each x row masked by the weight
//             row's bits; a horizontal sum per output at the end.
// transposed  z[i, c] = sum_j g[i, j] w[j, c]: lanes run along K too, now the
//             output columns; an MR x NR tile (MR rows of g, NR chunks of K)
//             accumulates, per weight row j, the broadcast g[i, j] masked by
//             row j's bits. Weight rows are taken in blocks of RowBlock (their
//             bits stay in L1 across the tiles of a block); partial sums are
//             parked in z between blocks (float: exact).
//
// Binary weights use sum_c w_c x_c = sum_c x_c - 2 * sum_{w_c = -1} x_c: one
// masked add per chunk and a row total; ternary ones a masked add (+1 lanes)
// and a masked subtract (-1 lanes) into the same accumulator, zero weights
// leaving lanes untouched. No multiply anywhere. Non-finite rows are redone in
// exact order afterwards (fixup.h), so Inf/NaN behave as in the float product.
//
// Tails: a partial last chunk of K is a masked load or store; the last rows and
// tiles reuse the unrolled code through with_count (tail.h). The ISA files
// instantiate these with their tile sizes (PBN_*_VARIANT below).
#pragma once

#include "../tail.h"
#include "fixup.h"

namespace pbn {
namespace {

// +-1 weights: sign bits s (n rows, stride lds words).
struct BinaryWeights {
  static constexpr bool kTotal = true;  // needs the row totals of the summed operand
  const word_t* s;
  std::size_t lds;
  using Row = const word_t*;
  PBN_INLINE Row row(std::size_t j) const { return s + j * lds; }
  template <class S>
  struct Masks {
    typename S::Mask neg;
  };
  template <class S>
  static PBN_INLINE Masks<S> masks(Row r, std::size_t t) {
    return {S::bits(r, t)};
  }
  template <class S>
  static PBN_INLINE typename S::Vec apply(typename S::Vec acc, const Masks<S>& m, typename S::Vec v) {
    return S::masked_add(acc, m.neg, v);
  }
  static PBN_INLINE float finish(float neg, float total) { return total - (neg + neg); }
  template <class S>
  static PBN_INLINE typename S::Vec finish(typename S::Vec neg, typename S::Vec total) {
    return S::sub(total, S::add(neg, neg));
  }
};

// -1/0/+1 weights: sign bits s and nonzero bits nz (a sign bit only where nonzero).
struct TernaryWeights {
  static constexpr bool kTotal = false;
  const word_t* s;
  std::size_t lds;
  const word_t* nz;
  std::size_t ldnz;
  struct Row {
    const word_t* s;
    const word_t* nz;
  };
  PBN_INLINE Row row(std::size_t j) const { return {s + j * lds, nz + j * ldnz}; }
  template <class S>
  struct Masks {
    typename S::Mask pos, neg;
  };
  template <class S>
  static PBN_INLINE Masks<S> masks(const Row& r, std::size_t t) {
    Masks<S> m;
    S::pos_neg(r.s, r.nz, t, m.pos, m.neg);
    return m;
  }
  template <class S>
  static PBN_INLINE typename S::Vec apply(typename S::Vec acc, const Masks<S>& m, typename S::Vec v) {
    return S::masked_sub(S::masked_add(acc, m.pos, v), m.neg, v);
  }
  static PBN_INLINE float finish(float acc, float) { return acc; }
  template <class S>
  static PBN_INLINE typename S::Vec finish(typename S::Vec acc, typename S::Vec) {
    return acc;
  }
};

// Binary weights: rows with a non-finite output redone in exact order;
// ternary: 0 * Inf = NaN restored where a non-finite input meets a zero weight.
template <bool kTransposed, class W>
void fix_nonfinite(const W& w, const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t m,
                   std::size_t n, std::size_t k) {
  if constexpr (W::kTotal && kTransposed) fix_nonfinite_transposed(a, lda, w.s, w.lds, out, ldo, m, n, k);
  if constexpr (W::kTotal && !kTransposed) fix_nonfinite_forward(a, lda, w.s, w.lds, out, ldo, m, n, k);
  if constexpr (!W::kTotal && kTransposed) fix_zero_weights_transposed(a, lda, w.nz, w.ldnz, out, ldo, m, n, k);
  if constexpr (!W::kTotal && !kTransposed) fix_zero_weights_forward(a, lda, w.nz, w.ldnz, out, ldo, m, n, k);
}

// Sums of MR rows of `len` floats.
template <class S, int MR>
PBN_INLINE void row_sums(const float* x, std::size_t ldx, std::size_t len, float* out) {
  constexpr std::size_t L = S::kLanes;
  typename S::Vec acc[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i] = S::zero();
  std::size_t c = 0;
  for (; c + L <= len; c += L)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = S::add(acc[i], S::load(x + i * ldx + c));
  if (c < len)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = S::add(acc[i], S::load_tail(x + i * ldx + c, len - c));
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) out[i] = S::hsum(acc[i]);
}

// ---- forward ----------------------------------------------------------------

// Every loop over the tile is fully unrolled so the accumulators stay in
// registers (GCC spills an array it cannot scalarize).
template <class S, class W, int MR, int NR, bool kTail>
PBN_INLINE void forward_step(typename S::Vec (&acc)[MR][NR], const float* x, std::size_t ldx,
                             const typename W::Row (&rows)[NR], std::size_t t, std::size_t valid) {
  constexpr std::size_t L = S::kLanes;
  typename S::Vec vx[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) vx[i] = kTail ? S::load_tail(x + i * ldx + L * t, valid) : S::load(x + i * ldx + L * t);
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) {
    const auto m = W::template masks<S>(rows[j], t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i][j] = W::template apply<S>(acc[i][j], m, vx[i]);
  }
}

template <class S, class W, int MR, int NR>
PBN_TILE void forward_tile(const float* x, std::size_t ldx, const W& w, std::size_t j0, float* y,
                           std::size_t ldy, std::size_t k, const float* totals) {
  constexpr std::size_t L = S::kLanes;
  typename S::Vec acc[MR][NR];
  typename W::Row rows[NR];
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) rows[j] = w.row(j0 + j);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = S::zero();
  const std::size_t full = k / L;
  for (std::size_t t = 0; t < full; ++t) forward_step<S, W, MR, NR, false>(acc, x, ldx, rows, t, L);
  if (k % L) forward_step<S, W, MR, NR, true>(acc, x, ldx, rows, full, k % L);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) y[i * ldy + j] = W::finish(S::hsum(acc[i][j]), totals[i]);
}

// MR rows of x against all n weight rows.
template <class S, class W, int MR, int NR>
void forward_panel(const float* x, std::size_t ldx, const W& w, float* y, std::size_t ldy, std::size_t n,
                   std::size_t k) {
  float totals[MR] = {};
  if constexpr (W::kTotal) row_sums<S, MR>(x, ldx, k, totals);
  std::size_t j = 0;
  for (; j + NR <= n; j += NR) forward_tile<S, W, MR, NR>(x, ldx, w, j, y + j, ldy, k, totals);
  with_count<NR - 1>(n - j, [&](auto nr) {
    forward_tile<S, W, MR, decltype(nr)::value>(x, ldx, w, j, y + j, ldy, k, totals);
  });
}

// (Each panel's non-finite rows are fixed while its outputs are in cache.)
template <class S, class W, int MR, int NR>
void forward(const float* x, std::size_t ldx, const W& w, float* y, std::size_t ldy, std::size_t m, std::size_t n,
             std::size_t k) {
  std::size_t i = 0;
  for (; i + MR <= m; i += MR) {
    forward_panel<S, W, MR, NR>(x + i * ldx, ldx, w, y + i * ldy, ldy, n, k);
    fix_nonfinite<false>(w, x + i * ldx, ldx, y + i * ldy, ldy, MR, n, k);
  }
  with_count<MR - 1>(m - i, [&](auto mr) {
    forward_panel<S, W, decltype(mr)::value, NR>(x + i * ldx, ldx, w, y + i * ldy, ldy, n, k);
  });
  fix_nonfinite<false>(w, x + i * ldx, ldx, y + i * ldy, ldy, m - i, n, k);
}

// ---- transposed -------------------------------------------------------------

// Columns [L t0, L t0 + cols) of z for MR rows (cols <= L NR), summing weight
// rows [j0, j1); between row blocks z holds the partial sums, the last block
// writes the outputs. W by value: by reference GCC reloaded its fields and
// recomputed each row pointer with a multiply per weight row (AVX2 ternary
// measured 20% slower than the kernel this replaced; now even).
template <class S, class W, int MR, int NR>
PBN_TILE void transposed_tile(const float* g, std::size_t ldg, W w, float* z, std::size_t ldz, std::size_t j0,
                              std::size_t j1, bool first, bool last, std::size_t t0, std::size_t cols,
                              const float* totals) {
  constexpr std::size_t L = S::kLanes;
  typename S::Vec acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const std::size_t c = L * std::size_t(t);
      float* p = z + i * ldz + L * t0 + c;
      acc[i][t] = first ? S::zero() : c + L <= cols ? S::load(p) : c < cols ? S::load_tail(p, cols - c) : S::zero();
    }
  for (std::size_t j = j0; j < j1; ++j) {
    typename S::Vec vg[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) vg[i] = S::broadcast(g + i * ldg + j);
    const typename W::Row row = w.row(j);
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const auto m = W::template masks<S>(row, t0 + t);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][t] = W::template apply<S>(acc[i][t], m, vg[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const typename S::Vec total = S::set1(totals[i]);
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
      const typename S::Vec v = last ? W::template finish<S>(acc[i][t], total) : acc[i][t];
      const std::size_t c = L * std::size_t(t);
      float* p = z + i * ldz + L * t0 + c;
      if (c + L <= cols)
        S::store(p, v);
      else if (c < cols)
        S::store_tail(p, v, cols - c);
    }
  }
}

// MR rows of g against all n weight rows, in blocks of RowBlock weight rows.
template <class S, class W, int MR, int NR, std::size_t RowBlock>
void transposed_panel(const float* g, std::size_t ldg, const W& w, float* z, std::size_t ldz, std::size_t n,
                      std::size_t k) {
  constexpr std::size_t L = S::kLanes;
  float totals[MR] = {};
  if constexpr (W::kTotal) row_sums<S, MR>(g, ldg, n, totals);
  std::size_t j0 = 0;
  do {  // once even for n = 0: the outputs are then the empty sums
    const std::size_t j1 = min_sz(n, j0 + RowBlock);
    const bool first = j0 == 0, last = j1 == n;
    std::size_t t0 = 0;
    for (; L * (t0 + NR) <= k; t0 += NR)
      transposed_tile<S, W, MR, NR>(g, ldg, w, z, ldz, j0, j1, first, last, t0, L * NR, totals);
    const std::size_t cols = k - L * t0;
    with_count<NR>((cols + L - 1) / L, [&](auto nt) {
      transposed_tile<S, W, MR, decltype(nt)::value>(g, ldg, w, z, ldz, j0, j1, first, last, t0, cols, totals);
    });
    j0 = j1;
  } while (j0 < n);
}

template <class S, class W, int MR, int NR, std::size_t RowBlock>
void transposed(const float* g, std::size_t ldg, const W& w, float* z, std::size_t ldz, std::size_t m,
                std::size_t n, std::size_t k) {
  std::size_t i = 0;
  for (; i + MR <= m; i += MR) {
    transposed_panel<S, W, MR, NR, RowBlock>(g + i * ldg, ldg, w, z + i * ldz, ldz, n, k);
    fix_nonfinite<true>(w, g + i * ldg, ldg, z + i * ldz, ldz, MR, n, k);
  }
  with_count<MR - 1>(m - i, [&](auto mr) {
    transposed_panel<S, W, decltype(mr)::value, NR, RowBlock>(g + i * ldg, ldg, w, z + i * ldz, ldz, n, k);
  });
  fix_nonfinite<true>(w, g + i * ldg, ldg, z + i * ldz, ldz, m - i, n, k);
}

constexpr std::size_t kAllRows = ~std::size_t(0);  // RowBlock: no blocking

}  // namespace
}  // namespace pbn

// The variants an ISA file defines: its tile sizes (MR x NR, and the weight-row
// block of the transposed kernels) and its SIMD helpers S.
#define PBN_BINARY_FORWARD_VARIANT(name, S, MR, NR)                                                               \
  void name(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y, std::size_t ldy,          \
            std::size_t m, std::size_t n, std::size_t k) {                                                        \
    forward<S, BinaryWeights, MR, NR>(x, ldx, BinaryWeights{s, lds}, y, ldy, m, n, k);                           \
  }
#define PBN_BINARY_TRANSPOSED_VARIANT(name, S, MR, NR, RowBlock)                                                  \
  void name(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z, std::size_t ldz,          \
            std::size_t m, std::size_t n, std::size_t k) {                                                        \
    transposed<S, BinaryWeights, MR, NR, RowBlock>(g, ldg, BinaryWeights{s, lds}, z, ldz, m, n, k);              \
  }
#define PBN_TERNARY_FORWARD_VARIANT(name, S, MR, NR)                                                              \
  void name(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz, \
            float* y, std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {                             \
    forward<S, TernaryWeights, MR, NR>(x, ldx, TernaryWeights{s, lds, nz, ldnz}, y, ldy, m, n, k);               \
  }
#define PBN_TERNARY_TRANSPOSED_VARIANT(name, S, MR, NR, RowBlock)                                                 \
  void name(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz, \
            float* z, std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {                             \
    transposed<S, TernaryWeights, MR, NR, RowBlock>(g, ldg, TernaryWeights{s, lds, nz, ldnz}, z, ldz, m, n, k);  \
  }
