// The float shift-add weight gradient on AVX-512 without a table: each
// product +-2^e * g is one integer add on g's bits, bits(g) + E with
// E = (e << 23) + (sign ? 2^31 : 0) (the carry out of the sign bit is dropped,
// so adding 2^31 flips the sign): exact where g and the product are normal
// floats. Output tiles of 6 rows x 64 columns live in 24 registers over the
// whole batch; per batch row i: 4 loads of g, 6 broadcasts of E, 24 vpaddd
// and 24 vaddps, no load of products (the table kernel, shift_table.h, reads
// one product vector per add from a table that outgrows L1). Terms are added
// in order of i, as in the scalar reference, so the bits match it:
//  - a zero code skips its add (masked vaddps), a zero g lane adds +0
//    (maskz vpaddd): the same sum, since a sum that starts at +0 is never -0;
//  - a batch row whose g tile has a denormal, Inf or NaN, or whose products
//    could leave the normal range (g's exponent fields plus the row's code
//    exponents, checked once per row and tile), takes the exact per-lane path
//    (pow2_product_bits, as the scalar reference).
#include <immintrin.h>

#include <algorithm>

#include "../kernels.h"
#include "../scratch.h"
#include "../tail.h"
#include "pow2_code.h"

namespace pbn {
namespace {

constexpr int kRows = 6, kVecs = 4, kCols = 16 * kVecs;  // one output tile: kRows x kCols
constexpr std::size_t kBroadcastBytes = 192 * 1024;     // E and the zero-code masks of a block of output rows
constexpr std::size_t kChunkRows = 256;                 // batch rows per pass: 64 KB of g per column tile

thread_local ThreadBuffer t_scratch;  // scratch.h

// Per batch row and column tile: can the products take the exponent add, and does the g tile hold zeros (a zero
// g must give a +0 product, so its lanes take the masked add)?
constexpr std::uint8_t kExact = 0, kFastMasked = 1, kFastDense = 2;
void fast_rows(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, std::size_t m,
               std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1, std::uint8_t* fast) {
  const std::size_t tiles = (n1 - n0 + kCols - 1) / kCols;
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  for (std::size_t i = 0; i < m; ++i) {
    // the row's code exponents + 64 (|c|): min and max over nonzero codes
    __m512i vlo = _mm512_set1_epi8(127), vhi = _mm512_setzero_si512();
    for (std::size_t k = k0; k < k1; k += 64) {
      const __mmask64 in = k1 - k >= 64 ? ~__mmask64(0) : (__mmask64(1) << (k1 - k)) - 1;
      const __m512i a = _mm512_abs_epi8(_mm512_maskz_loadu_epi8(in, codes + i * ldc + k));
      vlo = _mm512_mask_min_epu8(vlo, _mm512_test_epi8_mask(a, a), vlo, a);
      vhi = _mm512_max_epu8(vhi, a);
    }
    alignas(64) std::uint8_t l[64], h[64];
    _mm512_store_si512(l, vlo);
    _mm512_store_si512(h, vhi);
    int lo = 127, hi = 0;
    for (int j = 0; j < 64; ++j) {
      lo = std::min<int>(lo, l[j]);
      hi = std::max<int>(hi, h[j]);
    }
    lo -= kPow2Bias;  // none nonzero: lo = 63 > hi = -64, no range limit
    hi -= kPow2Bias;
    const float* gi = g + i * ldg;
    for (std::size_t t = 0; t < tiles; ++t) {
      const std::size_t n = n0 + t * kCols, cols = std::min<std::size_t>(kCols, n1 - n);
      int emin = 255, emax = 0;
      bool ok = true, zeros = false;
      for (std::size_t v = 0; v * 16 < cols; ++v) {
        const __mmask16 lanes = cols - v * 16 >= 16 ? __mmask16(0xffff) : __mmask16((1u << (cols - v * 16)) - 1);
        const __m512i a = _mm512_and_si512(_mm512_maskz_loadu_epi32(lanes, gi + n + v * 16), abs_mask);
        const __m512i ef = _mm512_srli_epi32(a, 23);
        const __mmask16 nonzero = _mm512_test_epi32_mask(a, a);
        zeros |= nonzero != lanes;
        // denormal (field 0, not zero) or Inf/NaN (field 255)
        if (_mm512_mask_cmpeq_epi32_mask(nonzero, ef, _mm512_setzero_si512()) ||
            _mm512_cmpeq_epi32_mask(ef, _mm512_set1_epi32(255)))
          ok = false;
        emin = std::min(emin, _mm512_mask_reduce_min_epi32(nonzero, ef));  // 0x7fffffff for no lane
        emax = std::max(emax, _mm512_mask_reduce_max_epi32(nonzero, ef));  // INT_MIN for no lane
      }
      if (ok && lo <= hi && emin <= emax) ok = emin + lo >= 1 && emax + hi <= 254;
      fast[i * tiles + t] = !ok ? kExact : zeros ? kFastMasked : kFastDense;
    }
  }
}

// p[r * kCols + j] = code c[r] times g[j] (pow2_product_bits; 0 past the lanes).
__attribute__((noinline)) void exact_products(const std::int8_t* c, int rows, const float* g, const __mmask16* lanes,
                                              float* p) {
  alignas(64) std::uint32_t gb[kCols];
  for (int v = 0; v < kVecs; ++v) _mm512_store_si512(gb + 16 * v, _mm512_maskz_loadu_epi32(lanes[v], g + 16 * v));
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < kCols; ++j) p[r * kCols + j] = bits_f32(pow2_product_bits(c[r], gb[j]));
}

// One output tile, rows 0 .. R of `out` and columns 0 .. cols (<= kCols), over m
// batch rows (from the sums parked in `out` unless `first`): E and Z of these
// rows batch row by batch row (e[i * R + r], z[i * R + r]).
template <int R, bool kFull>
PBN_TILE void tile(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out,
                     std::size_t ldo, std::size_t m, std::size_t cols, const std::int32_t* e, std::uint16_t* z,
                     const std::uint8_t* dense, const std::uint8_t* fast, std::size_t tiles, bool first) {
  __mmask16 lanes[kVecs];
#pragma GCC unroll 4
  for (int v = 0; v < kVecs; ++v) {
    const long long left = (long long)cols - 16LL * v;
    lanes[v] = left >= 16 ? __mmask16(0xffff) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }
  if (first)  // the lines this tile stores: their misses overlap the batch loop instead of stalling the stores
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < kVecs; ++v) _mm_prefetch(reinterpret_cast<const char*>(out + r * ldo + 16 * v), _MM_HINT_T0);
  __m512 acc[R][kVecs];  // from +0, or the partial sums of the batch rows before (parked in `out`)
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v)
      acc[r][v] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(lanes[v], out + r * ldo + 16 * v);
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  for (std::size_t i = 0; i < m; ++i, g += ldg, fast += tiles, e += R, z += R) {
    __m512i gv[kVecs];
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v)
      gv[v] = kFull ? _mm512_loadu_si512(g + 16 * v) : _mm512_maskz_loadu_epi32(lanes[v], g + 16 * v);
    if (kFull && __builtin_expect(*fast == kFastDense && dense[i], 1)) {  // no zero g lane or code: no masks
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) {
        const __m512i eb = _mm512_set1_epi32(e[r]);
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v)
          acc[r][v] = _mm512_add_ps(acc[r][v], _mm512_castsi512_ps(_mm512_add_epi32(gv[v], eb)));
      }
    } else if (*fast != kExact) {
      __mmask16 nonzero[kVecs];
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) nonzero[v] = _mm512_test_epi32_mask(gv[v], abs_mask);
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) {
        const __m512i eb = _mm512_set1_epi32(e[r]);
        const __mmask16 live = _load_mask16(z + r);
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v)
          acc[r][v] = _mm512_mask_add_ps(acc[r][v], live, acc[r][v],
                                         _mm512_castsi512_ps(_mm512_maskz_add_epi32(nonzero[v], gv[v], eb)));
      }
    } else {  // exact, lane by lane (out of line: the accumulators stay in registers)
      alignas(64) float p[R][kCols];
      exact_products(codes + i * ldc, R, g, lanes, &p[0][0]);
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) acc[r][v] = _mm512_add_ps(acc[r][v], _mm512_load_ps(&p[r][16 * v]));
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) {
      if (kFull)
        _mm512_storeu_ps(out + r * ldo + 16 * v, acc[r][v]);
      else
        _mm512_mask_storeu_ps(out + r * ldo + 16 * v, lanes[v], acc[r][v]);
    }
}

// E and Z of R (<= 16) output rows, batch row by batch row: e[i * R + r] =
// (exponent << 23) + (sign ? 2^31 : 0), z[i * R + r] = code ? 0xffff : 0.
void broadcasts(const std::int8_t* codes, std::size_t ldc, std::size_t m, std::size_t R, std::int32_t* e,
                std::uint16_t* z, std::uint8_t* dense) {
  const __mmask16 in = __mmask16((1u << R) - 1);
  const __m512i bias = _mm512_set1_epi32(kPow2Bias), sign = _mm512_set1_epi32(std::int32_t(0x80000000u));
  for (std::size_t i = 0; i < m; ++i, codes += ldc, e += R, z += R) {
    const __m512i c = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(in, codes));
    const __m512i ev = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_abs_epi32(c), bias), 23);
    _mm512_mask_storeu_epi32(e, in, _mm512_add_epi32(ev, _mm512_and_si512(c, sign)));
    const __mmask16 live = _mm512_test_epi32_mask(c, c);
    _mm256_mask_storeu_epi16(z, in, _mm256_movm_epi16(live));
    dense[i] = live == in;  // every code of these rows nonzero
  }
}

// Rows of a column tile of g (cols <= kCols wide) copied kCols apart: g's own rows are a multiple of 4 KB
// apart at the usual widths, so the tile's rows share a few cache sets and it would not stay in L1 (nor in L2
// at 16 KB apart) while the row tiles below sum it again and again.
void pack_tile(const float* g, std::size_t ldg, std::size_t m, std::size_t cols, float* packed) {
  const __mmask16 tail = cols % 16 ? __mmask16((1u << (cols % 16)) - 1) : __mmask16(0xffff);
  for (std::size_t i = 0; i < m; ++i, g += ldg, packed += kCols)
    for (std::size_t v = 0; v * 16 < cols; ++v)
      _mm512_store_ps(packed + 16 * v, _mm512_maskz_loadu_ps(v * 16 + 16 <= cols ? __mmask16(0xffff) : tail, g + 16 * v));
}

// Output rows r0 .. r0 + rows of a column tile, kRows at a time (then the remainder).
void row_tiles(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out, std::size_t ldo,
               std::size_t m, std::size_t rows, std::size_t cols, const std::int32_t* e, std::uint16_t* z,
               const std::uint8_t* dense, const std::uint8_t* fast, std::size_t tiles, bool first) {
  const bool full = cols == std::size_t(kCols);
  for (std::size_t r = 0; r < rows; r += kRows) {
    const std::size_t R = std::min<std::size_t>(kRows, rows - r);
    const std::int8_t* c = codes + r;
    float* o = out + r * ldo;
    const std::int32_t* er = e + r * m;
    std::uint16_t* zr = z + r * m;
    const std::uint8_t* dr = dense + r / kRows * m;
    with_count<kRows>(R, [&](auto rows_now) {
      constexpr int kR = decltype(rows_now)::value;
      if (full)
        tile<kR, true>(c, ldc, g, ldg, o, ldo, m, cols, er, zr, dr, fast, tiles, first);
      else
        tile<kR, false>(c, ldc, g, ldg, o, ldo, m, cols, er, zr, dr, fast, tiles, first);
    });
  }
}

}  // namespace

void shift_matmul_expadd__avx512(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg,
                                 float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1,
                                 std::size_t n0, std::size_t n1) {
  if (k0 >= k1 || n0 >= n1) return;
  const std::size_t tiles = (n1 - n0 + kCols - 1) / kCols;
  // Batch rows per chunk (a chunk's g tile stays in L2; partial sums are parked in `out` between chunks), and
  // output rows per block (E and Z of block x chunk codes within kBroadcastBytes).
  const std::size_t chunk = std::min(m, kChunkRows);
  const std::size_t block_max = std::max<std::size_t>(kBroadcastBytes / (6 * chunk) / kRows * kRows, kRows);
  const std::size_t block = std::min(k1 - k0, block_max);
  // m * tiles <= m * n and block * chunk <= kBroadcastBytes: bounded by the arrays' own sizes.
  const std::size_t fast_bytes = (m * tiles + 63) / 64 * 64, e_bytes = block * chunk * 4, z_bytes = block * chunk * 2;
  const std::size_t dense_bytes = (block + kRows - 1) / kRows * chunk, packed_bytes = chunk * kCols * 4;
  auto* base = static_cast<std::uint8_t*>(t_scratch.get(packed_bytes + fast_bytes + e_bytes + z_bytes + dense_bytes));
  if (!base) return shift_matmul__scalar(codes, ldc, g, ldg, out, ldo, m, k0, k1, n0, n1);  // no memory: slow, right
  auto* packed = reinterpret_cast<float*>(base);  // the column tile of g being summed, rows kCols apart
  std::uint8_t* fast = base + packed_bytes;
  auto* e = reinterpret_cast<std::int32_t*>(fast + fast_bytes);
  auto* z = reinterpret_cast<std::uint16_t*>(fast + fast_bytes + e_bytes);
  std::uint8_t* dense = fast + fast_bytes + e_bytes + z_bytes;  // per tile of kRows rows and batch row
  fast_rows(codes, ldc, g, ldg, m, k0, k1, n0, n1, fast);

  for (std::size_t i0 = 0; i0 < m; i0 += chunk) {
    const std::size_t mc = std::min(chunk, m - i0);
    const std::int8_t* ci = codes + i0 * ldc;
    for (std::size_t kb = k0; kb < k1; kb += block) {
      const std::size_t rows = std::min(block, k1 - kb);
      for (std::size_t r0 = 0; r0 < rows; r0 += kRows) {  // per tile of rows, batch row by batch row
        const std::size_t R = std::min<std::size_t>(kRows, rows - r0);
        broadcasts(ci + kb + r0, ldc, mc, R, e + r0 * mc, z + r0 * mc, dense + r0 / kRows * mc);
      }
      for (std::size_t t = 0; t < tiles; ++t) {
        const std::size_t n = n0 + t * kCols, cols = std::min<std::size_t>(kCols, n1 - n);
        pack_tile(g + i0 * ldg + n, ldg, mc, cols, packed);
        row_tiles(ci + kb, ldc, packed, kCols, out + kb * ldo + n, ldo, mc, rows, cols, e, z, dense,
                  fast + i0 * tiles + t, tiles, i0 == 0);
      }
    }
  }
}

}  // namespace pbn
