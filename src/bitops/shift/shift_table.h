// The SIMD shift-add GEMM, written once over an ISA's SIMD helpers S
// (simd/avx2.h, simd/avx512.h), in float (FloatTable) and fixed point
// (FixedTable); an ISA file defines its variants with PBN_SHIFT_MATMUL_FLOAT_VARIANT
// and PBN_SHIFT_MATMUL_FIXED_VARIANT.
//
// Why a table: out[k, :] = sum_i s[i,k] 2^e[i,k] g[i, :] has one product per
// (i, k, n), but only few distinct codes per row i. So for a tile of kW
// columns of g and a chunk of rows, the driver first builds every
// T[code][i] = +-2^e * g[i, tile] once (exponent-field adds in float, shifts
// in fixed point: nslots * rows * kW ops), then each output row is a pure sum
// of table rows picked by its codes: one vector add (with its load) per 16 (or
// 8) products and no multiply, no per-element shift, no branch. Terms are
// added in order of i, as in the scalar reference, so the bits match it.
// KB output rows (4 on AVX-512, 2 on AVX2: the ISA file's choice) are summed at
// once, 4 KB independent add chains, to hide the add latency. Rows are chunked
// so the table stays within kTableBytes (L2); partial sums of a chunk are
// parked in `out` (as P::Elem bits) between chunks.
#pragma once

#include <cstdlib>
#include <cstring>

#include "../kernels.h"
#include "../scratch.h"
#include "pow2_code.h"

namespace pbn {
namespace {


constexpr std::size_t kTableBytes = 1024 * 1024;

thread_local ThreadBuffer t_table;  // the table, per thread (scratch.h)

template <class P, int KB>
PBN_INLINE void sum_rows(const std::int8_t* codes, std::size_t ldc, std::size_t rows, const typename P::Elem* table,
                         const std::size_t* off, typename P::Vec (&acc)[KB][P::kNV]) {
  using Elem = typename P::Elem;
  const Elem* trow = table;
  for (std::size_t i = 0; i < rows; ++i, codes += ldc, trow += P::kW) {
    const Elem* r[KB];
#pragma GCC unroll 4
    for (int b = 0; b < KB; ++b) r[b] = trow + off[std::uint8_t(codes[b])];
#pragma GCC unroll 4
    for (int v = 0; v < P::kNV; ++v)
#pragma GCC unroll 4
      for (int b = 0; b < KB; ++b) acc[b][v] = P::add(acc[b][v], P::load(r[b] + v * P::kLanes));
  }
}

// Partial sums of one output row tile, parked in `out` between row chunks
// (P::load_raw / P::store_raw mask the columns past `cols`).
template <class P, int KB>
PBN_INLINE void output_rows(const std::int8_t* codes, std::size_t ldc, std::size_t rows, const typename P::Elem* table,
                            const std::size_t* off, float* out, std::size_t ldo, std::size_t cols, bool first,
                            bool last, int frac_bits) {
  typename P::Vec acc[KB][P::kNV];
  if (first) {
#pragma GCC unroll 4
    for (int b = 0; b < KB; ++b)
#pragma GCC unroll 4
      for (int v = 0; v < P::kNV; ++v) acc[b][v] = P::zero();
  } else {
#pragma GCC unroll 4
    for (int b = 0; b < KB; ++b) P::load_raw(out + b * ldo, cols, acc[b]);
  }
  sum_rows<P, KB>(codes, ldc, rows, table, off, acc);
#pragma GCC unroll 4
  for (int b = 0; b < KB; ++b) {
    if (last)
      P::finish(out + b * ldo, acc[b], cols, frac_bits);
    else
      P::store_raw(out + b * ldo, cols, acc[b]);
  }
}

template <class P, int KB>
void table_matmul(const std::int8_t* codes, std::size_t ldc, const typename P::Elem* g, std::size_t ldg, float* out,
                  std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1,
                  int frac_bits) {
  using Elem = typename P::Elem;
  if (k0 >= k1 || n0 >= n1) return;
  // The codes present in these columns get table slots.
  bool present[256] = {};
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t k = k0; k < k1; ++k) present[std::uint8_t(codes[i * ldc + k])] = true;
  std::int8_t slot_code[256];
  std::size_t nslots = 0;
  for (int c = 0; c < 256; ++c)
    if (present[c]) slot_code[nslots++] = std::int8_t(std::uint8_t(c));
  const std::size_t row_bytes = sizeof(Elem) * P::kW;
  std::size_t chunk = kTableBytes / (nslots * row_bytes);
  chunk = chunk < 1 ? 1 : (chunk > m ? m : chunk);
  Elem* table = static_cast<Elem*>(t_table.get(nslots * chunk * row_bytes));
  if (!table) return;  // (out of memory for <= kTableBytes: the output stays uninitialized)
  std::size_t off[256] = {};
  for (std::size_t s = 0; s < nslots; ++s) off[std::uint8_t(slot_code[s])] = s * chunk * P::kW;

  for (std::size_t n = n0; n < n1; n += P::kW) {
    const std::size_t cols = n1 - n < std::size_t(P::kW) ? n1 - n : std::size_t(P::kW);
    for (std::size_t i0 = 0; i0 < m; i0 += chunk) {
      const std::size_t rows = m - i0 < chunk ? m - i0 : chunk;
      for (std::size_t s = 0; s < nslots; ++s)
        P::build_rows(table + s * chunk * P::kW, g + i0 * ldg + n, ldg, rows, cols, slot_code[s]);
      const bool first = i0 == 0, last = i0 + rows == m;
      const std::int8_t* c = codes + i0 * ldc;
      std::size_t k = k0;
      if (KB == 4)
        for (; k + 4 <= k1; k += 4)
          output_rows<P, 4>(c + k, ldc, rows, table, off, out + k * ldo + n, ldo, cols, first, last, frac_bits);
      for (; k + 2 <= k1; k += 2)
        output_rows<P, 2>(c + k, ldc, rows, table, off, out + k * ldo + n, ldo, cols, first, last, frac_bits);
      if (k < k1) output_rows<P, 1>(c + k, ldc, rows, table, off, out + k * ldo + n, ldo, cols, first, last, frac_bits);
    }
  }
}


// Float: T[code][i] = +-2^e * g[i, tile], by an exponent-field add and a sign
// xor where g and the product are normal floats; other lanes (zero, denormal,
// Inf/NaN, under/overflow) exactly from the bits, as the scalar reference.
template <class S>
struct FloatTable {
  using Elem = float;
  using Vec = typename S::Vec;
  static constexpr int kLanes = S::kLanes, kNV = 4, kW = 4 * S::kLanes;  // kW columns per tile
  static PBN_INLINE Vec zero() { return S::zero(); }
  static PBN_INLINE Vec load(const float* p) { return S::load(p); }
  static PBN_INLINE Vec add(Vec a, Vec b) { return S::add(a, b); }

  // dst[i * kW + j] = code * g[i * ldg + j] for i < rows, j < cols (0 past cols).
  static void build_rows(float* dst, const float* g, std::size_t ldg, std::size_t rows, std::size_t cols,
                         std::int8_t code) {
    typename S::IMask m[kNV];
    for (int v = 0; v < kNV; ++v) m[v] = S::lanes((long long)cols - (long long)v * kLanes);
    if (code == 0) {  // 0 * g: +0, NaN where g is Inf or NaN
      for (std::size_t i = 0; i < rows; ++i, dst += kW, g += ldg)
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) {
          const auto a = S::and_i(S::load_i(g + v * kLanes, m[v]), S::set1_i(0x7fffffff));
          S::store_i(dst + v * kLanes, S::select(S::gt(a, 0x7f7fffff), S::set1_i(0x7fc00000)));
        }
      return;
    }
    const int e = pow2_exponent(code);
    const std::uint32_t flip = code < 0 ? 0x80000000u : 0u;
    const auto add = S::set1_i(std::int32_t(std::uint32_t(e) << 23)), vflip = S::set1_i(std::int32_t(flip));
    for (std::size_t i = 0; i < rows; ++i, dst += kW, g += ldg) {
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) {
        const auto u = S::load_i(g + v * kLanes, m[v]);
        const auto ef = S::and_i(S::srli_i(u, 23), S::set1_i(0xff));
        const auto ok = S::both(S::between(ef, 0, 255), S::between(ef, 0, 255, e));  // g and result normal
        S::store_i(dst + v * kLanes, S::select(ok, S::xor_i(S::add_i(u, add), vflip)));
        const unsigned slow = ~S::bits_of(ok) & S::bits_of(m[v]);
        if (slow) {  // zero, denormal, Inf/NaN, or a result that under/overflows: exact from the bits
          for (int j = 0; j < kLanes; ++j)
            if (slow >> j & 1) dst[v * kLanes + j] = bits_f32(ldexp_bits(f32_bits(g[v * kLanes + j]), e) ^ flip);
        }
      }
    }
  }

  static PBN_INLINE void load_raw(const float* out, std::size_t cols, Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[v] = S::as_float(S::load_i(out + v * kLanes, S::lanes((long long)cols - v * kLanes)));
  }
  static PBN_INLINE void store_raw(float* out, std::size_t cols, const Vec (&acc)[kNV]) { finish(out, acc, cols, 0); }
  static PBN_INLINE void finish(float* out, const Vec (&acc)[kNV], std::size_t cols, int) {
    if (cols >= std::size_t(kW)) {
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) S::store(out + v * kLanes, acc[v]);
    } else {
      for (int v = 0; v < kNV; ++v) S::store_i(out + v * kLanes, S::lanes((long long)cols - v * kLanes), S::as_int(acc[v]));
    }
  }
};

// Fixed point: T[code][i] = +-(q << e) or +-round(q / 2^-e) (vpsllvd / a
// rounding vpsravd) of the int32 q = round(g * 2^F), summed exactly in int32;
// then out = float(sum) * 2^-F (vcvtdq2ps and an exponent-field add, exact
// from the bits off the normal range).
template <class S>
struct FixedTable {
  using Elem = std::int32_t;
  using Vec = typename S::VecI;
  static constexpr int kLanes = S::kLanes, kNV = 4, kW = 4 * S::kLanes;
  static PBN_INLINE Vec zero() { return S::zero_i(); }
  static PBN_INLINE Vec load(const std::int32_t* p) { return S::load_i(p); }
  static PBN_INLINE Vec add(Vec a, Vec b) { return S::add_i(a, b); }

  static void build_rows(std::int32_t* dst, const std::int32_t* q, std::size_t ldq, std::size_t rows,
                         std::size_t cols, std::int8_t code) {
    const int e = code ? pow2_exponent(code) : 0;
    const int s = e >= 0 ? 0 : (-e > 31 ? 31 : -e);
    const Vec left = S::set1_i(e >= 0 ? e : 0), right = S::set1_i(s);
    const Vec bias = S::set1_i(s ? std::int32_t(1u << (s - 1)) : 0);
    typename S::IMask m[kNV];
    for (int v = 0; v < kNV; ++v) m[v] = S::lanes((long long)cols - (long long)v * kLanes);
    for (std::size_t i = 0; i < rows; ++i, dst += kW, q += ldq) {
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) {
        const Vec x = S::load_i(q + v * kLanes, m[v]);
        Vec r = e >= 0 ? S::sllv_i(x, left) : S::srav_i(S::add_i(x, bias), right);
        if (code < 0) r = S::sub_i(S::zero_i(), r);
        if (code == 0) r = S::zero_i();
        S::store_i(dst + v * kLanes, r);
      }
    }
  }

  static PBN_INLINE void load_raw(const float* out, std::size_t cols, Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[v] = S::load_i(out + v * kLanes, S::lanes((long long)cols - v * kLanes));
  }
  static PBN_INLINE void store_raw(float* out, std::size_t cols, const Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) S::store_i(out + v * kLanes, S::lanes((long long)cols - v * kLanes), acc[v]);
  }
  static PBN_INLINE void finish(float* out, const Vec (&acc)[kNV], std::size_t cols, int frac_bits) {
    const Vec sub = S::set1_i(std::int32_t(std::uint32_t(-frac_bits) << 23));
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) {
      const Vec u = S::float_bits_of(acc[v]);
      const Vec ef = S::and_i(S::srli_i(u, 23), S::set1_i(0xff));
      const auto ok = S::both(S::between(ef, 0, 255), S::between(ef, 0, 255, -frac_bits));
      alignas(64) std::uint32_t rb[kLanes];
      S::store_i(rb, S::add_i(u, sub));
      const unsigned slow = ~S::bits_of(ok) & ((1u << kLanes) - 1);
      if (slow) {
        alignas(64) std::uint32_t ub[kLanes];
        S::store_i(ub, u);
        for (int j = 0; j < kLanes; ++j)
          if (slow >> j & 1) rb[j] = ldexp_bits(ub[j], -frac_bits);
      }
      S::store_i(out + v * kLanes, S::lanes((long long)cols - v * kLanes), S::load_i(rb));
    }
  }
};

}  // namespace
}  // namespace pbn

// The variants of an ISA: S its SIMD helpers, KB the output rows summed at once.
// (AVX-512's float variant is shift_matmul_expadd__avx512, faster on every shape measured: no table.)
#define PBN_SHIFT_MATMUL_FLOAT_VARIANT(isa, S, KB)                                                                 \
  void shift_matmul__##isa(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out, \
                           std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0,        \
                           std::size_t n1) {                                                                       \
    table_matmul<FloatTable<S>, KB>(codes, ldc, g, ldg, out, ldo, m, k0, k1, n0, n1, 0);                           \
  }
#define PBN_SHIFT_MATMUL_FIXED_VARIANT(isa, S, KB)                                                                 \
  void shift_matmul_fixed__##isa(const std::int8_t* codes, std::size_t ldc, const std::int32_t* q, std::size_t ldq, \
                                 float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1,      \
                                 std::size_t n0, std::size_t n1, int frac_bits) {                                 \
    table_matmul<FixedTable<S>, KB>(codes, ldc, q, ldq, out, ldo, m, k0, k1, n0, n1, frac_bits);                   \
  }
