// binary_weight_matmul for short rows (k <= 64, e.g. a first conv's 3x3x3
// patches), written once over an ISA's SIMD helpers S (simd/avx2.h,
// simd/avx512.h): a lane is an output column. The masked-add kernels
// (masked_add.h) put K in the lanes and end every output with a horizontal
// sum, and AVX-512's subset-sum tables work on whole 32-column groups; at
// k = 27 either costs more than the 27 additions themselves. Here each term is
// one XOR of the broadcast x[i, c] with output j's sign (0 or 0x80000000, a
// table built once per call) and one add, a vector of outputs at a time.
// Every output is summed term by term in order of c from +0, exactly the
// scalar reference (acc + (-x) is acc - x in IEEE arithmetic, Inf and NaN
// included), so no fix-up pass is needed. The CIFAR-10 net's first layer
// (102400 patch rows x 27 -> 128 filters, one Zen 5 core): AVX2 masked adds
// 25.7 ms -> 11.4 ms here; AVX-512 subset-sum tables 14.9 ms.
#pragma once

#include <cstdlib>

#include "../kernels.h"
#include "../tail.h"

namespace pbn {
namespace {

constexpr int kNarrowMR = 2;  // rows of x per tile
constexpr int kNarrowNB = 4;  // vectors of outputs per tile: 2 x 4 accumulators

// signs[(c * blocks + b) * L + l] = 0x80000000 where w[L b + l, c] = -1 (0 past n).
struct SignTable {
  std::uint32_t* p;
  explicit SignTable(std::size_t entries)
      : p(static_cast<std::uint32_t*>(std::aligned_alloc(64, (entries * 4 + 63) / 64 * 64))) {}
  ~SignTable() { std::free(p); }
  SignTable(const SignTable&) = delete;
  SignTable& operator=(const SignTable&) = delete;
};

template <class S, int MR, int NB>
PBN_INLINE void narrow_tile(const float* x, std::size_t ldx, const std::uint32_t* signs, std::size_t blocks, float* y,
                            std::size_t ldy, std::size_t j0, std::size_t n, std::size_t k) {
  constexpr std::size_t L = S::kLanes;
  typename S::Vec acc[MR][NB];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) acc[i][b] = S::zero();
  const std::uint32_t* sg = signs + j0;
  for (std::size_t c = 0; c < k; ++c, sg += blocks * L) {
    typename S::VecI xc[MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) xc[i] = S::as_int(S::broadcast(x + i * ldx + c));
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) {
      const typename S::VecI s = S::load_i(sg + L * b);
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) acc[i][b] = S::add(acc[i][b], S::as_float(S::xor_i(xc[i], s)));
    }
  }
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b) {
    const std::size_t j = j0 + L * std::size_t(b);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      if (j + L <= n)
        S::store(y + i * ldy + j, acc[i][b]);
      else
        S::store_tail(y + i * ldy + j, acc[i][b], n - j);
    }
  }
}

template <class S, int MR>
void narrow_rows(const float* x, std::size_t ldx, const std::uint32_t* signs, std::size_t blocks, float* y,
                 std::size_t ldy, std::size_t n, std::size_t k) {
  constexpr std::size_t L = S::kLanes;
  std::size_t b = 0;
  for (; b + kNarrowNB <= blocks; b += kNarrowNB) narrow_tile<S, MR, kNarrowNB>(x, ldx, signs, blocks, y, ldy, L * b, n, k);
  with_count<kNarrowNB - 1>(blocks - b, [&](auto nb) {
    narrow_tile<S, MR, decltype(nb)::value>(x, ldx, signs, blocks, y, ldy, L * b, n, k);
  });
}

// Returns false (nothing written) if the sign table could not be allocated.
template <class S>
bool narrow_binary_weight_matmul(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                 std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  constexpr std::size_t L = S::kLanes;
  const std::size_t blocks = (n + L - 1) / L;
  SignTable table(k * blocks * L);
  if (!table.p) return false;
  for (std::size_t c = 0; c < k; ++c)
    for (std::size_t j = 0; j < blocks * L; ++j)
      table.p[c * blocks * L + j] = j < n && ((s[j * lds + c / kWordBits] >> (c % kWordBits)) & 1) ? 0x80000000u : 0u;
  std::size_t i = 0;
  for (; i + kNarrowMR <= m; i += kNarrowMR)
    narrow_rows<S, kNarrowMR>(x + i * ldx, ldx, table.p, blocks, y + i * ldy, ldy, n, k);
  for (; i < m; ++i) narrow_rows<S, 1>(x + i * ldx, ldx, table.p, blocks, y + i * ldy, ldy, n, k);
  return true;
}

}  // namespace
}  // namespace pbn

// A variant `name` of binary_weight_matmul for short rows on S, `fallback` if the sign
// table cannot be allocated.
#define PBN_NARROW_FORWARD_VARIANT(name, S, fallback)                                                           \
  void name(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y, std::size_t ldy,        \
            std::size_t m, std::size_t n, std::size_t k) {                                                       \
    if (!narrow_binary_weight_matmul<S>(x, ldx, s, lds, y, ldy, m, n, k)) fallback(x, ldx, s, lds, y, ldy, m, n, k); \
  }
