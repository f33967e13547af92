// The native kernel tests: every variant of the registry (src/bitops/variants.inc)
// against its op's scalar reference, on edge shapes and strided rows, and the
// drivers (thread splits included) against the reference, with no Python, so
// the sanitizers run natively (scripts/sanitize.sh). Build and run:
//
//   python setup.py build_native && build/native/test_kernels [substring of a variant name]
//
// A variant whose ISA this CPU lacks is skipped (reported). Exit status 1 on
// any failure. Integer and bit outputs must be identical to the reference; the
// float weight matmuls within the float32 summation bound of tests/test_weight_matmul.py.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "conv/driver.h"
#include "pack/driver.h"
#include "registry.h"
#include "shift/driver.h"
#include "shift/pow2_code.h"
#include "threads.h"
#include "weight_matmul/driver.h"
#include "weight_matmul/dword_panels.h"
#include "xnor_gemm/driver.h"

namespace pbn {
namespace {

int g_failures = 0, g_checks = 0;

void fail(const std::string& what) {
  ++g_failures;
  std::printf("FAIL %s\n", what.c_str());
}

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float normal() {  // rough, enough for test data
    float t = 0;
    for (int i = 0; i < 4; ++i) t += float(next() >> 40) / 16777216.0f - 0.5f;
    return t * 1.7f;
  }
};

// Packed rows (rows, ld words) of random bits with zero padding past k.
std::vector<word_t> random_bits(Rng& rng, std::size_t rows, std::size_t k, std::size_t ld) {
  std::vector<word_t> b(rows * ld + 1, 0);
  const std::size_t words = words_for(k);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t q = 0; q < words; ++q)
      b[r * ld + q] = rng.next() & (q + 1 == words ? last_word_mask(k) : ~word_t(0));
  return b;
}

std::vector<float> random_floats(Rng& rng, std::size_t n) {
  std::vector<float> v(n + 1);
  for (auto& x : v) x = rng.normal();
  return v;
}

template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

std::string shape_name(const Variant& v, std::size_t m, std::size_t n, std::size_t k) {
  return std::string(v.name) + " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k);
}

const Variant& reference_of(OpId op) { return peek(op, Target{Isa::scalar, -1}, Shape{}); }

template <class Fn>
Fn* fn_of(const Variant& v) {
  return reinterpret_cast<Fn*>(v.fn);
}

// ---- per-op checks: run variant v and the reference on one shape -----------

const std::size_t kM[] = {0, 1, 2, 3, 5, 10, 17};  // 10, 17: a 6-row panel tile and a shorter one
const std::size_t kN[] = {0, 1, 3, 8, 9, 65};
const std::size_t kK[] = {0, 1, 63, 64, 65, 300, 1000};

void check_xnor(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (std::size_t m : kM)
    for (std::size_t n : kN)
      for (std::size_t k : kK) {
        if (m != 1 && (m * 7 + n * 3 + k) % 3) continue;  // a third of the cross product; every shape of one row (its own tile path)
        const std::size_t words = words_for(k), lda = words + 1, ldb = words + 3;
        auto a = random_bits(rng, m, k, lda), mask = random_bits(rng, m, k, lda), b = random_bits(rng, n, k, ldb);
        ++g_checks;
        if (v.op == OpId::xnor_gemm || v.op == OpId::xnor_gemm_masked) {
          std::vector<std::int32_t> c(m * (n + 2), 7), r(m * (n + 2), 7);
          if (v.op == OpId::xnor_gemm) {
            fn_of<xnor_gemm_fn>(v)(a.data(), lda, b.data(), ldb, c.data(), n + 2, m, n, words, std::int64_t(k));
            fn_of<xnor_gemm_fn>(ref)(a.data(), lda, b.data(), ldb, r.data(), n + 2, m, n, words, std::int64_t(k));
          } else {
            fn_of<xnor_gemm_masked_fn>(v)(a.data(), lda, mask.data(), lda, b.data(), ldb, c.data(), n + 2, m, n, words);
            fn_of<xnor_gemm_masked_fn>(ref)(a.data(), lda, mask.data(), lda, b.data(), ldb, r.data(), n + 2, m, n,
                                            words);
          }
          if (!same(c, r)) fail(shape_name(v, m, n, k));
        } else {  // threshold and panels: packed sign bits out
          std::vector<std::int32_t> t(n + 1);
          for (auto& x : t) x = std::int32_t(rng.next() % (2 * k + 3)) - std::int32_t(k) - 1;
          auto flips = random_bits(rng, 1, n, words_for(n));
          const std::size_t ldc = words_for(n) + 1;
          std::vector<word_t> c(m * ldc, 0), r(m * ldc, 0);
          fn_of<xnor_gemm_threshold_fn>(reference_of(OpId::xnor_gemm_threshold))(
              a.data(), lda, b.data(), ldb, r.data(), ldc, m, n, words, std::int64_t(k), t.data(), flips.data());
          if (v.op == OpId::xnor_gemm_threshold) {
            fn_of<xnor_gemm_threshold_fn>(v)(a.data(), lda, b.data(), ldb, c.data(), ldc, m, n, words,
                                             std::int64_t(k), t.data(), flips.data());
          } else {
            const auto bp = driver::to_panels(b.data(), ldb, n, words);
            fn_of<xnor_gemm_threshold_panels_fn>(v)(a.data(), lda, bp.data(), c.data(), ldc, m, n, words,
                                                    std::int64_t(k), t.data(), flips.data());
          }
          if (!same(c, r)) fail(shape_name(v, m, n, k));
        }
      }
}

// |y - ref| <= (3 K + 2) 2^-24 sum |terms| (tests/test_weight_matmul.py).
bool close(const std::vector<float>& y, const std::vector<float>& r, const std::vector<float>& bound) {
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (std::isnan(r[i]) != std::isnan(y[i])) return false;
    if (!std::isnan(r[i]) && !(std::fabs(double(y[i]) - double(r[i])) <= double(bound[i]) + 1e-30)) return false;
  }
  return true;
}

// binary_weight_matmul_lut__avx512 reading its dword panels (dword_panels.h): the bits of the
// variant's own y, over all n outputs and over those from output 16 on (a driver's column chunk).
void check_lut_panels(const Variant& v, std::vector<float> a, std::size_t lda, const std::vector<word_t>& s,
                      std::size_t lds, const std::vector<float>& y, std::size_t ldo, std::size_t m, std::size_t n,
                      std::size_t k) {
  std::vector<std::uint32_t> panels(dword_panel_elements(n, k) + 16);
  // 64-byte aligned, as the drivers' panels are
  auto* p = reinterpret_cast<std::uint32_t*>((reinterpret_cast<std::uintptr_t>(panels.data()) + 63) & ~std::uintptr_t(63));
  dword_panels(s.data(), lds, n, k, p);
  for (std::size_t j0 : {std::size_t(0), std::size_t(16)}) {
    if (j0 > n || (j0 && m == 0)) continue;
    std::vector<float> z(m * ldo, 0.0f);
    binary_weight_matmul_lut_panels__avx512(a.data(), lda, s.data() + j0 * lds, lds, p + j0 * dword_panel_columns(k),
                                            z.data() + j0, ldo, m, n - j0, k);
    ++g_checks;
    for (std::size_t i = 0; i < m; ++i)
      if (std::memcmp(&z[i * ldo + j0], &y[i * ldo + j0], (n - j0) * sizeof(float)) != 0)
        fail(shape_name(v, m, n, k) + " from its dword panels, outputs " + std::to_string(j0) + "..");
  }
  if (m > 0 && k > 0) {  // a non-finite row: redone from s in exact order, as the variant does
    a[0] = INFINITY;
    std::vector<float> want(m * ldo, 0.0f), got(m * ldo, 0.0f);
    fn_of<binary_weight_matmul_fn>(v)(a.data(), lda, s.data(), lds, want.data(), ldo, m, n, k);
    binary_weight_matmul_lut_panels__avx512(a.data(), lda, s.data(), lds, p, got.data(), ldo, m, n, k);
    ++g_checks;
    if (std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0)
      fail(shape_name(v, m, n, k) + " from its dword panels, x[0, 0] = inf");
  }
}

void check_weight_matmul(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  const bool lut_panels = std::strcmp(v.name, "binary_weight_matmul_lut__avx512") == 0;
  const bool ternary = v.op == OpId::ternary_weight_matmul || v.op == OpId::ternary_weight_matmul_t;
  const bool transposed = v.op == OpId::binary_weight_matmul_t || v.op == OpId::ternary_weight_matmul_t;
  // m = 8, 17: AVX2's wide panels of 8 rows of x (binary_weight_matmul_lut__avx2.cpp)
  for (std::size_t m : {std::size_t(0), std::size_t(1), std::size_t(3), std::size_t(5), std::size_t(8), std::size_t(17)})
    for (std::size_t n : kN)
      for (std::size_t k : kK) {
        if ((m + n * 5 + k) % 2) continue;
        const std::size_t words = words_for(k), lds = words + 1;
        auto s = random_bits(rng, n, k, lds), nz = random_bits(rng, n, k, lds);
        for (std::size_t i = 0; i < s.size(); ++i) s[i] &= nz[i];  // sign bits only where nonzero
        const std::size_t rows_in = m, cols_in = transposed ? n : k, cols_out = transposed ? k : n;
        const std::size_t lda = cols_in + 2, ldo = cols_out + 1;
        auto a = random_floats(rng, rows_in * lda);
        std::vector<float> y(m * ldo, 0.0f), r(m * ldo, 0.0f), bound(m * ldo, 0.0f);
        for (std::size_t i = 0; i < m; ++i) {
          double sum = 0;
          for (std::size_t c = 0; c < cols_in; ++c) sum += std::fabs(a[i * lda + c]);
          for (std::size_t o = 0; o < cols_out; ++o)
            bound[i * ldo + o] = float((3.0 * double(cols_in) + 2.0) * std::ldexp(1.0, -24) * sum);
        }
        ++g_checks;
        if (ternary) {
          using Fn = ternary_weight_matmul_fn;
          fn_of<Fn>(v)(a.data(), lda, s.data(), lds, nz.data(), lds, y.data(), ldo, m, n, k);
          fn_of<Fn>(ref)(a.data(), lda, s.data(), lds, nz.data(), lds, r.data(), ldo, m, n, k);
        } else {
          using Fn = binary_weight_matmul_fn;
          fn_of<Fn>(v)(a.data(), lda, s.data(), lds, y.data(), ldo, m, n, k);
          fn_of<Fn>(ref)(a.data(), lda, s.data(), lds, r.data(), ldo, m, n, k);
          if (lut_panels) check_lut_panels(v, a, lda, s, lds, y, ldo, m, n, k);
        }
        if (!close(y, r, bound)) fail(shape_name(v, m, n, k));
      }
  // Batch 1 past 4 blocks of 512 columns: the panels' blocks-outer order (table_forward.h)
  if (lut_panels)
    for (std::size_t k : {std::size_t(2049), std::size_t(2600)}) {
      const std::size_t n = 40, lds = words_for(k);
      const auto s = random_bits(rng, n, k, lds);
      const auto a = random_floats(rng, k);
      std::vector<float> y(n);
      fn_of<binary_weight_matmul_fn>(v)(a.data(), k, s.data(), lds, y.data(), n, 1, n, k);
      check_lut_panels(v, a, k, s, lds, y, n, 1, n, k);
    }
}

void check_uint8(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (std::size_t m : {std::size_t(0), std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(7)})
    for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(31), std::size_t(33), std::size_t(64)})
      for (std::size_t k : {std::size_t(0), std::size_t(1), std::size_t(15), std::size_t(16), std::size_t(17),
                            std::size_t(300)}) {
        const std::size_t chunks = (k + 15) / 16, blocks = (n + 31) / 32, ldx = k + 3;
        std::vector<std::uint8_t> x(m * ldx + 1);
        for (auto& p : x) p = std::uint8_t(rng.next());
        std::vector<std::uint16_t> panels(blocks * chunks * 32 + 1);
        for (auto& p : panels) p = std::uint16_t(rng.next());
        for (std::size_t b = 0; b < blocks; ++b)  // bits past k and rows past n are zero (pixel_panels)
          for (std::size_t q = 0; q < chunks; ++q)
            for (std::size_t l = 0; l < 32; ++l) {
              std::uint16_t& p = panels[(b * chunks + q) * 32 + l];
              if (b * 32 + l >= n) p = 0;
              if (16 * q + 16 > k) p &= std::uint16_t((1u << (k - 16 * q)) - 1);
            }
        std::vector<std::int32_t> y(m * n, 1), r(m * n, 2);
        ++g_checks;
        fn_of<uint8_weight_matmul_fn>(v)(x.data(), ldx, panels.data(), chunks, y.data(), n, m, n, k);
        fn_of<uint8_weight_matmul_fn>(ref)(x.data(), ldx, panels.data(), chunks, r.data(), n, m, n, k);
        if (!same(y, r)) fail(shape_name(v, m, n, k));
      }
}

void check_pack(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (DType dt : {DType::f32, DType::f64, DType::i8, DType::i16})
    for (std::size_t outer : {std::size_t(1), std::size_t(3)})
      for (std::size_t k : {std::size_t(1), std::size_t(63), std::size_t(64), std::size_t(130)})
        for (std::size_t inner : {std::size_t(1), std::size_t(5)}) {
          const std::size_t count = outer * k * inner, words = words_for(k);
          std::vector<unsigned char> x(count * 8 + 64);
          for (std::size_t i = 0; i < count; ++i) {
            const float f = rng.normal();
            switch (dt) {
              case DType::f32: reinterpret_cast<float*>(x.data())[i] = f; break;
              case DType::f64: reinterpret_cast<double*>(x.data())[i] = f; break;
              case DType::i8: reinterpret_cast<std::int8_t*>(x.data())[i] = std::int8_t(f * 40); break;
              case DType::i16: reinterpret_cast<std::int16_t*>(x.data())[i] = std::int16_t(f * 9000); break;
            }
          }
          std::vector<word_t> out(outer * words * inner, 5), want(outer * words * inner, 6);
          ++g_checks;
          const bool nan = fn_of<pack_signs_fn>(v)(x.data(), dt, outer, k, inner, out.data(), 0, outer, 0, inner);
          fn_of<pack_signs_fn>(ref)(x.data(), dt, outer, k, inner, want.data(), 0, outer, 0, inner);
          if (nan || !same(out, want)) fail(shape_name(v, outer, inner, k) + " dtype " + std::to_string(int(dt)));
        }
}

// pack_bit_planes against its rule, bit by bit: bit b of word w of plane p is set where bit p of pixel
// 64 w + b is clear, padding bits zero; rows ldx bytes apart (an unaligned start), output rows ldo words
// apart and planes plane_stride apart, the words between them untouched.
void check_pack_bit_planes(const Variant& v, Rng& rng) {
  for (std::size_t rows : {std::size_t(1), std::size_t(3)})
    for (std::size_t k : {std::size_t(1), std::size_t(31), std::size_t(63), std::size_t(64), std::size_t(65),
                          std::size_t(130), std::size_t(784)}) {
      const std::size_t ldx = k + 5, words = words_for(k), ldo = words + 1, stride = rows * ldo + 2;
      std::vector<std::uint8_t> x(rows * ldx + 1);
      for (auto& e : x) e = std::uint8_t(rng.next());
      const std::uint8_t* px = x.data() + 1;
      std::vector<word_t> out(8 * stride, 0xA5A5A5A5A5A5A5A5ull), want = out;
      for (std::size_t p = 0; p < 8; ++p)
        for (std::size_t i = 0; i < rows; ++i)
          for (std::size_t w = 0; w < words; ++w) {
            word_t bits = 0;
            for (std::size_t b = 0; b < 64 && 64 * w + b < k; ++b)
              if (!((px[i * ldx + 64 * w + b] >> p) & 1)) bits |= word_t(1) << b;
            want[p * stride + i * ldo + w] = bits;
          }
      ++g_checks;
      fn_of<pack_bit_planes_fn>(v)(px, ldx, rows, k, out.data(), ldo, stride);
      if (!same(out, want)) fail(shape_name(v, rows, 0, k));
    }
}

// bitplane_combine against its rule in int64: out = (sum_p c_p * 2^p + 255 * w_sums) >> 1 (floor), c_p
// within +-2^20 (real dot products are even-sum and within +-k < 2^22); out's row padding untouched.
void check_bitplane_combine(const Variant& v, Rng& rng) {
  for (std::size_t rows : {std::size_t(1), std::size_t(4)})
    for (std::size_t cols : {std::size_t(1), std::size_t(15), std::size_t(16), std::size_t(17), std::size_t(70)}) {
      const std::size_t ldc = cols + 3, stride = rows * ldc + 5, ldo = cols + 2;
      std::vector<std::int32_t> c(8 * stride), ws(cols), out(rows * ldo, 77), want = out;
      for (auto& e : c) e = std::int32_t(rng.next() % (1u << 21)) - (1 << 20);
      for (auto& e : ws) e = std::int32_t(rng.next() % (1u << 21)) - (1 << 20);
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) {
          std::int64_t s = 255 * std::int64_t(ws[j]);
          for (std::size_t p = 0; p < 8; ++p) s += std::int64_t(c[p * stride + i * ldc + j]) * (std::int64_t(1) << p);
          want[i * ldo + j] = std::int32_t(s >= 0 ? s / 2 : -((-s + 1) / 2));
        }
      ++g_checks;
      fn_of<bitplane_combine_fn>(v)(c.data(), ldc, stride, ws.data(), out.data(), ldo, rows, cols);
      if (!same(out, want)) fail(shape_name(v, rows, cols, 0));
    }
}

// bitplane_bytes against x . w in int64 (every variant, the scalar reference included): pixel
// rows ldx > k bytes apart with junk past k, weight rows ldw > words apart, shapes covering the
// tiles' row and column tails, k off whole vectors and words, all-255 pixels (the largest sums).
void check_bitplane_bytes(const Variant& v, Rng& rng) {
  for (std::size_t m : {std::size_t(1), std::size_t(3), std::size_t(4), std::size_t(9), std::size_t(130)})
    for (std::size_t n : {std::size_t(1), std::size_t(2), std::size_t(5), std::size_t(33), std::size_t(70)})
      for (std::size_t k : {std::size_t(1), std::size_t(31), std::size_t(32), std::size_t(100), std::size_t(784)}) {
        const std::size_t words = words_for(k), ldw = words + 1, ldx = k + 5, ldo = n + 2;
        const auto w = random_bits(rng, n, k, ldw);
        std::vector<std::uint8_t> x(m * ldx);
        const bool saturated = (m + n + k) % 4 == 0;
        for (auto& e : x) e = saturated ? 255 : std::uint8_t(rng.next());
        std::vector<std::int32_t> ws(n), out(m * ldo, 77), want = out;
        for (std::size_t j = 0; j < n; ++j) {
          std::int64_t s = 0;
          for (std::size_t c = 0; c < k; ++c) s += ((w[j * ldw + c / 64] >> (c % 64)) & 1) ? -1 : 1;
          ws[j] = std::int32_t(s);
        }
        for (std::size_t i = 0; i < m; ++i)
          for (std::size_t j = 0; j < n; ++j) {
            std::int64_t s = 0;
            for (std::size_t c = 0; c < k; ++c)
              s += std::int64_t(x[i * ldx + c]) * (((w[j * ldw + c / 64] >> (c % 64)) & 1) ? -1 : 1);
            want[i * ldo + j] = std::int32_t(s);
          }
        ++g_checks;
        fn_of<bitplane_bytes_fn>(v)(x.data(), ldx, w.data(), ldw, ws.data(), out.data(), ldo, m, n, k);
        if (!same(out, want)) fail(shape_name(v, m, n, k));
      }
}

ConvShape conv(std::size_t h, std::size_t w, std::size_t words, std::size_t kh, std::size_t s, std::size_t p) {
  ConvShape c{h, w, words, kh, kh, s, s, p, p, 0, 0};
  c.oh = (h + 2 * p - kh) / s + 1;
  c.ow = (w + 2 * p - kh) / s + 1;
  return c;
}

void check_conv(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (std::size_t words : {std::size_t(1), std::size_t(2)})
    for (std::size_t kh : {std::size_t(1), std::size_t(2), std::size_t(3)})
      for (std::size_t stride : {std::size_t(1), std::size_t(2)}) {
        const std::size_t pad = v.op == OpId::maxpool_bits ? 0 : kh / 2, images = 2;
        const ConvShape s = conv(5, 6, words, kh, stride, pad);
        const std::size_t rows = images * s.oh * s.ow;
        ++g_checks;
        if (v.op == OpId::im2col_bits) {
          auto x = random_bits(rng, images * s.h * s.w, words * 64, words);
          const std::size_t ldo = kh * kh * words + 1;
          std::vector<word_t> out(rows * ldo, 3), want(rows * ldo, 3);
          fn_of<im2col_bits_fn>(v)(x.data(), s, out.data(), ldo, 0, rows);
          fn_of<im2col_bits_fn>(ref)(x.data(), s, want.data(), ldo, 0, rows);
          if (!same(out, want)) fail(shape_name(v, rows, 0, kh));
        } else if (v.op == OpId::maxpool_bits) {
          auto x = random_bits(rng, images * s.h * s.w, words * 64, words);
          auto flips = random_bits(rng, 1, words * 64, words);
          std::vector<word_t> out(rows * words, 3), want(rows * words, 4);
          fn_of<maxpool_bits_fn>(v)(x.data(), s, flips.data(), out.data(), 0, rows);
          fn_of<maxpool_bits_fn>(ref)(x.data(), s, flips.data(), want.data(), 0, rows);
          if (!same(out, want)) fail(shape_name(v, rows, 0, kh));
        } else {  // first_conv_threshold: s.words is channels here
          const std::size_t c = 3 * words, f = 70 * words;
          const ConvShape fs = conv(5, 6, c, kh, stride, pad);
          const std::size_t taps = kh * kh * c, ldw = words_for(f), frows = images * fs.oh * fs.ow;
          auto x = random_floats(rng, images * fs.h * fs.w * c);
          auto wpos = random_bits(rng, taps, f, ldw);
          auto flips = random_bits(rng, 1, f, ldw);
          std::vector<float> t = random_floats(rng, f);
          const std::size_t ldo = ldw + 1;
          std::vector<word_t> out(frows * ldo, 0), want(frows * ldo, 0);
          fn_of<first_conv_threshold_fn>(v)(x.data(), fs, wpos.data(), ldw, f, t.data(), flips.data(), out.data(),
                                            ldo, 0, frows);
          fn_of<first_conv_threshold_fn>(ref)(x.data(), fs, wpos.data(), ldw, f, t.data(), flips.data(), want.data(),
                                              ldo, 0, frows);
          if (!same(out, want)) fail(shape_name(v, frows, f, taps));
        }
      }
}

// col2im_add against a naive scatter in tap order onto the padded gradient, then cropped (the only
// variant is the reference itself; padding 2 > kh / 2 drops whole taps).
void check_col2im(const Variant& v, Rng& rng) {
  for (std::size_t c : {std::size_t(1), std::size_t(5), std::size_t(33)})
    for (std::size_t kh : {std::size_t(1), std::size_t(2), std::size_t(3)})
      for (std::size_t stride : {std::size_t(1), std::size_t(2)})
        for (std::size_t pad : {std::size_t(0), std::size_t(1), std::size_t(2)}) {
          const std::size_t images = 3;
          const ConvShape s = conv(7, 6, c, kh, stride, pad);
          const std::size_t row = kh * kh * c, rows = images * s.oh * s.ow;
          const std::size_t hp = s.h + 2 * pad, wp = s.w + 2 * pad;
          auto cols = random_floats(rng, rows * row);
          auto out = random_floats(rng, images * s.h * s.w * c);
          std::vector<float> padded(images * hp * wp * c, 0.0f);
          for (std::size_t n = 0; n < images; ++n)
            for (std::size_t y = 0; y < s.h; ++y)
              for (std::size_t x = 0; x < s.w * c; ++x)
                padded[((n * hp + y + pad) * wp + pad) * c + x] = out[(n * s.h + y) * s.w * c + x];
          for (std::size_t n = 0; n < images; ++n)
            for (std::size_t t = 0; t < kh * kh; ++t)
              for (std::size_t oy = 0; oy < s.oh; ++oy)
                for (std::size_t ox = 0; ox < s.ow; ++ox)
                  for (std::size_t j = 0; j < c; ++j)
                    padded[((n * hp + oy * stride + t / kh) * wp + ox * stride + t % kh) * c + j] +=
                        cols[((n * s.oh + oy) * s.ow + ox) * row + t * c + j];
          auto want = out;
          for (std::size_t n = 0; n < images; ++n)
            for (std::size_t y = 0; y < s.h; ++y)
              for (std::size_t x = 0; x < s.w * c; ++x)
                want[(n * s.h + y) * s.w * c + x] = padded[((n * hp + y + pad) * wp + pad) * c + x];
          ++g_checks;
          fn_of<col2im_add_fn>(v)(cols.data(), s, out.data(), 0, 1);  // in two calls: images [0, 1), [1, 3)
          fn_of<col2im_add_fn>(v)(cols.data(), s, out.data(), 1, images);
          if (!same(out, want)) fail(shape_name(v, images, c, kh) + " pad " + std::to_string(pad));
        }
}

// Both stages of a batch norm kernel: `a` through variant v (the sums of rows [r0, r1) in two channel
// halves, then the elementwise pass in two row ranges), `b` through the reference in one call each.
template <class Fn, class Args>
void run_batch_norm_stages(Fn* fn, Fn* ref, Args a, Args b, std::size_t rows, std::size_t c) {
  const std::size_t half = c / 2, r0 = rows / 2, r1 = rows * 2 / 3;
  fn(a, r0, r1, 0, half);
  fn(a, r0, r1, half, c);
  ref(b, r0, r1, 0, c);
  a.sums = b.sums = nullptr;
  fn(a, 0, r0, 0, c);
  fn(a, r0, rows, 0, c);
  ref(b, 0, rows, 0, c);
}

// Batch norm: every ISA gives the reference's bits in both stages (norm/batch_norm_body.h).
void check_batch_norm(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (std::size_t rows : {std::size_t(1), std::size_t(7), std::size_t(300)})
    for (std::size_t c : {std::size_t(1), std::size_t(17), std::size_t(600)}) {
      auto x = random_floats(rng, rows * c), p = random_floats(rng, c), q = random_floats(rng, c);
      for (auto& e : x) e = e * 3.0f + 100.0f;  // a large mean: the shifted sums must not cancel
      auto h = random_floats(rng, rows * c), mu = random_floats(rng, c), is = random_floats(rng, c);
      std::vector<double> sums(2 * c, 7.0), sums2(2 * c, 8.0);
      std::vector<float> y(rows * c), hh(rows * c), y2(rows * c), hh2(rows * c);
      ++g_checks;
      if (v.op == OpId::batch_norm_train) {
        const BatchNormTrainArgs a{x.data(), c, x.data(), sums.data(), mu.data(), is.data(), p.data(), q.data(),
                                   y.data(), hh.data()};
        BatchNormTrainArgs b = a;
        b.sums = sums2.data(), b.y = y2.data(), b.xhat = hh2.data();
        run_batch_norm_stages(fn_of<batch_norm_train_fn>(v), fn_of<batch_norm_train_fn>(ref), a, b, rows, c);
      } else {
        std::vector<float> ac = random_floats(rng, c), cc = random_floats(rng, c);
        const BatchNormBackwardArgs a{x.data(), h.data(), c, sums.data(), ac.data(), cc.data(), p.data(), y.data()};
        BatchNormBackwardArgs b = a;
        b.sums = sums2.data(), b.dx = y2.data();
        run_batch_norm_stages(fn_of<batch_norm_backward_fn>(v), fn_of<batch_norm_backward_fn>(ref), a, b, rows, c);
      }
      if (std::memcmp(sums.data(), sums2.data(), sums.size() * sizeof(double)) != 0 || !same(y, y2) ||
          !same(hh, hh2))
        fail(shape_name(v, rows, 0, c));
    }
}

// The sign activation: every ISA gives the reference's bits, for whole and partial gate words, in two calls.
void check_ste_sign(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (std::size_t n : {std::size_t(1), std::size_t(63), std::size_t(64), std::size_t(200), std::size_t(1000)}) {
    auto x = random_floats(rng, n);
    for (std::size_t i = 0; i < n; i += 7) x[i] = (i % 3 == 0) ? 1.0f : (i % 3 == 1) ? -1.0f : 0.0f;
    if (n > 5) x[5] = NAN, x[4] = -0.0f;
    const std::size_t words = words_for(n), half = n / 128 * 64;  // a split at a whole word
    ++g_checks;
    if (v.op == OpId::ste_sign) {
      for (bool inclusive : {true, false}) {
        std::vector<float> y(n, 7), y2(n, 7);
        std::vector<word_t> gate(words, 5), gate2(words, 5);
        fn_of<ste_sign_fn>(v)(x.data(), y.data(), gate.data(), 0, half, inclusive);
        fn_of<ste_sign_fn>(v)(x.data(), y.data(), gate.data(), half, n, inclusive);
        fn_of<ste_sign_fn>(ref)(x.data(), y2.data(), gate2.data(), 0, n, inclusive);
        if (!same(y, y2) || !same(gate, gate2)) fail(shape_name(v, 0, 0, n));
      }
    } else {
      auto gate = random_bits(rng, 1, n, words);
      auto g = random_floats(rng, n);
      if (n > 3) g[3] = INFINITY;
      std::vector<float> dx(n, 7), dx2(n, 7);
      fn_of<ste_sign_backward_fn>(v)(g.data(), gate.data(), dx.data(), 0, half);
      fn_of<ste_sign_backward_fn>(v)(g.data(), gate.data(), dx.data(), half, n);
      fn_of<ste_sign_backward_fn>(ref)(g.data(), gate.data(), dx2.data(), 0, n);
      if (!same(dx, dx2)) fail(shape_name(v, 0, 0, n));
    }
  }
}

// Float max-pooling against a naive loop with np.maximum's rule (NaN propagates, a tie takes the later
// tap: the sign of a zero shows it), overlapping windows included, in two calls over the images.
void check_maxpool_forward(const Variant& v, Rng& rng) {
  for (std::size_t c : {std::size_t(1), std::size_t(17), std::size_t(64)})
    for (std::size_t k : {std::size_t(1), std::size_t(2), std::size_t(3)})
      for (std::size_t stride : {std::size_t(1), k, k + 1}) {
        const std::size_t images = 3;
        const ConvShape s = conv(7, 8, c, k, stride, 0);
        auto x = random_floats(rng, images * s.h * s.w * c);
        for (std::size_t i = 0; i < x.size(); ++i) {
          x[i] = float(int(x[i] * 2.0f));  // small integers: ties, zeros of both signs
          if (i % 5 == 1) x[i] = -0.0f;
          if (i % 97 == 3) x[i] = std::nanf("");
        }
        std::vector<float> want(images * s.oh * s.ow * c), y(want.size(), 7.0f);
        for (std::size_t n = 0; n < images; ++n)
          for (std::size_t oy = 0; oy < s.oh; ++oy)
            for (std::size_t ox = 0; ox < s.ow; ++ox)
              for (std::size_t j = 0; j < c; ++j) {
                float m = 0.0f;
                for (std::size_t t = 0; t < k * k; ++t) {
                  const float e = x[((n * s.h + oy * stride + t / k) * s.w + ox * stride + t % k) * c + j];
                  m = t == 0 || std::isnan(e) || (!std::isnan(m) && !(m > e)) ? e : m;
                }
                want[((n * s.oh + oy) * s.ow + ox) * c + j] = m;
              }
        ++g_checks;
        fn_of<maxpool_forward_fn>(v)(x.data(), s, y.data(), 0, 1);
        fn_of<maxpool_forward_fn>(v)(x.data(), s, y.data(), 1, images);
        if (!same(y, want)) fail(shape_name(v, images, c, k) + " stride " + std::to_string(stride));
      }
}

// The float max-pooling gradient against a naive loop (ties: all), in two calls over the images.
void check_maxpool_backward(const Variant& v, Rng& rng) {
  for (std::size_t c : {std::size_t(1), std::size_t(17), std::size_t(64)})
    for (std::size_t k : {std::size_t(1), std::size_t(2), std::size_t(3)})
      for (std::size_t stride : {k, k + 1}) {
        const std::size_t images = 3;
        const ConvShape s = conv(7, 8, c, k, stride, 0);
        auto x = random_floats(rng, images * s.h * s.w * c);
        for (auto& e : x) e = float(int(e * 2.0f));  // small integers: ties in the windows
        // every (input position p, output position o) pair of a window, in window order
        const auto each_tap = [&](auto fn) {
          for (std::size_t n = 0; n < images; ++n)
            for (std::size_t oy = 0; oy < s.oh; ++oy)
              for (std::size_t ox = 0; ox < s.ow; ++ox)
                for (std::size_t ky = 0; ky < k; ++ky)
                  for (std::size_t kx = 0; kx < k; ++kx)
                    for (std::size_t j = 0; j < c; ++j)
                      fn(((n * s.h + oy * stride + ky) * s.w + ox * stride + kx) * c + j,
                         ((n * s.oh + oy) * s.ow + ox) * c + j);
        };
        std::vector<float> y(images * s.oh * s.ow * c, -1e30f);
        each_tap([&](std::size_t p, std::size_t o) { y[o] = std::max(y[o], x[p]); });
        auto g = random_floats(rng, y.size());
        std::vector<float> want(images * s.h * s.w * c, 0.0f), dx(want.size(), 7.0f);  // (x has one spare float)
        each_tap([&](std::size_t p, std::size_t o) { want[p] = x[p] == y[o] ? g[o] : 0.0f; });
        ++g_checks;
        fn_of<maxpool_backward_fn>(v)(x.data(), y.data(), g.data(), s, dx.data(), 0, 1);
        fn_of<maxpool_backward_fn>(v)(x.data(), y.data(), g.data(), s, dx.data(), 1, images);
        if (!same(dx, want)) fail(shape_name(v, images, c, k));
      }
}

// The transpose: every ISA the reference's bits (a copy), whole and partial 16x16 tiles and 1024-row
// blocks, row strides past the width, in two calls split at a tile; out's padding left alone.
void check_transpose(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (std::size_t m : {std::size_t(1), std::size_t(15), std::size_t(16), std::size_t(33), std::size_t(1100)})
    for (std::size_t n : {std::size_t(1), std::size_t(16), std::size_t(17), std::size_t(130)}) {
      const std::size_t lda = n + 3, ldo = m + 5, half = m / 32 * 16;
      auto a = random_floats(rng, m * lda);
      if (m * n > 7) a[7] = NAN, a[3] = -0.0f;
      std::vector<float> out(n * ldo, 7.0f), want(n * ldo, 7.0f);
      ++g_checks;
      fn_of<transpose_fn>(v)(a.data(), lda, out.data(), ldo, n, 0, half);
      fn_of<transpose_fn>(v)(a.data(), lda, out.data(), ldo, n, half, m);
      fn_of<transpose_fn>(ref)(a.data(), lda, want.data(), ldo, n, 0, m);
      bool ok = true;
      for (std::size_t i = 0; i < m && ok; ++i)
        for (std::size_t j = 0; j < n; ++j)
          if (std::memcmp(&want[j * ldo + i], &a[i * lda + j], 4) != 0) ok = false;
      if (!ok || std::memcmp(out.data(), want.data(), out.size() * 4) != 0) fail(shape_name(v, m, n, 0));
    }
}

// pack_scaled_ternary against its rule: sign and nonzero bits, zero padding, the two flags (another
// magnitude, NaN, -0 as a zero), rows packed in two calls.
void check_pack_scaled_ternary(const Variant& v, Rng& rng) {
  for (std::size_t k : {std::size_t(1), std::size_t(7), std::size_t(64), std::size_t(65), std::size_t(200)})
    for (int twist = 0; twist < 4; ++twist) {  // none, a zero, another magnitude, a NaN
      const std::size_t rows = 5, words = words_for(k);
      std::vector<float> x(rows * k);
      for (auto& e : x) e = (rng.next() & 1) ? 0.75f : -0.75f;
      const std::size_t at = rng.next() % x.size();
      if (twist == 1) x[at] = (rng.next() & 1) ? 0.0f : -0.0f;
      if (twist == 2) x[at] = 0.5f;
      if (twist == 3) x[at] = NAN;
      std::vector<word_t> signs(rows * words, 7), nonzero(rows * words, 7), want_s(rows * words, 0),
          want_nz(rows * words, 0);
      for (std::size_t i = 0; i < x.size(); ++i) {
        const std::size_t r = i / k, c = i % k, w = r * words + c / 64;
        if (x[i] != 0.0f) want_nz[w] |= word_t(1) << (c % 64);
        if (x[i] < 0.0f) want_s[w] |= word_t(1) << (c % 64);
      }
      const unsigned want_flags = twist == 1 ? kHasZero : twist >= 2 ? kOtherValue : 0u;
      ++g_checks;
      const unsigned flags = fn_of<pack_scaled_ternary_fn>(v)(x.data(), k, -0.75f, signs.data(), nonzero.data(), 0, 2) |
                             fn_of<pack_scaled_ternary_fn>(v)(x.data(), k, -0.75f, signs.data(), nonzero.data(), 2, rows);
      if (flags != want_flags || (twist < 2 && (signs != want_s || nonzero != want_nz)))
        fail(shape_name(v, rows, twist, k));
    }
}

// int32_affine against its rule, element by element: float(c) * scale rounded, then + bias rounded (no
// FMA), over the int32s in place; the padding of each row (ldc > cols) untouched. Large ints round.
void check_int32_affine(const Variant& v, Rng& rng) {
  for (std::size_t rows : {std::size_t(1), std::size_t(3)})
    for (std::size_t cols : {std::size_t(1), std::size_t(15), std::size_t(16), std::size_t(17), std::size_t(130)})
      for (float scale : {1.0f, -0.37f, 3e-39f, 1e30f})
        for (bool biased : {false, true}) {
          const std::size_t ldc = cols + 3;
          std::vector<std::int32_t> c(rows * ldc);
          for (auto& e : c) e = std::int32_t(std::uint32_t(rng.next() >> (rng.next() % 2 ? 32 : 52)));
          const auto bias = random_floats(rng, cols);
          std::vector<std::int32_t> want = c;
          for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < cols; ++j) {
              volatile float y = float(c[i * ldc + j]) * scale;
              volatile float z = biased ? y + bias[j] : y;
              const float r = z;
              std::memcpy(&want[i * ldc + j], &r, 4);
            }
          ++g_checks;
          fn_of<int32_affine_fn>(v)(c.data(), ldc, rows, cols, scale, biased ? bias.data() : nullptr);
          if (std::memcmp(c.data(), want.data(), c.size() * 4) != 0)
            fail(shape_name(v, rows, cols, biased) + " scale " + std::to_string(scale));
        }
}

void check_pow2(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(15), std::size_t(17), std::size_t(1000)}) {
    std::vector<float> x = random_floats(rng, n);
    if (n > 3) x[1] = 0.0f, x[2] = 1e-40f, x[3] = INFINITY;  // zero, denormal, Inf
    for (int mode = 0; mode < 2; ++mode) {
      ++g_checks;
      if (v.op == OpId::quantize_pow2) {
        std::vector<std::int8_t> c(n + 1, 1), r(n + 1, 1);
        fn_of<quantize_pow2_fn>(v)(x.data(), c.data(), 0, n, mode == 0, -20, 20, 42);
        fn_of<quantize_pow2_fn>(ref)(x.data(), r.data(), 0, n, mode == 0, -20, 20, 42);
        if (!same(c, r)) fail(shape_name(v, 0, 0, n) + (mode ? " deterministic" : " stochastic"));
      } else {
        std::vector<std::int8_t> codes(n + 1);
        for (auto& c : codes) c = std::int8_t(rng.next() % 255 - 127);
        std::vector<float> o(n + 1, 1), r(n + 1, 1);
        fn_of<dequantize_pow2_fn>(v)(codes.data(), o.data(), 0, n);
        fn_of<dequantize_pow2_fn>(ref)(codes.data(), r.data(), 0, n);
        if (!same(o, r)) fail(shape_name(v, 0, 0, n));
      }
    }
  }
}

void check_shift(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  // m = 300: more than one chunk of batch rows (partial sums parked in out); k = 13: 6 + 6 + 1 output rows
  for (std::size_t m : {std::size_t(1), std::size_t(3), std::size_t(40), std::size_t(300)})
    for (std::size_t k : {std::size_t(1), std::size_t(5), std::size_t(9), std::size_t(13)})
      for (std::size_t n : {std::size_t(1), std::size_t(17), std::size_t(70), std::size_t(130)}) {
        const std::size_t ldc = k + 2, ldg = n + 3, ldo = n + 1;
        std::vector<std::int8_t> codes(m * ldc + 1);
        for (auto& c : codes) {  // 0 or +-2^e, e in -9..10
          const int d = int(rng.next() % 41) - 20;
          c = std::int8_t(d == 0 ? 0 : d > 0 ? 54 + d : -54 + d);
        }
        std::vector<float> g = random_floats(rng, m * ldg);
        std::vector<float> o(k * ldo, 1), r(k * ldo, 1);
        ++g_checks;
        if (v.op == OpId::shift_matmul) {
          if (m > 2) g[ldg + 1] = 1e-41f, g[2] = INFINITY;  // exact fallback lanes
          if (m > 2) g[2 * ldg + n / 2] = 0.0f, g[2 * ldg + n - 1] = -0.0f;  // zero lanes (+0 terms)
          if (m > 200) {  // products that overflow / underflow: 2^63 * 2^70, 2^-63 * 2^-70 (rows 150, 160)
            codes[150 * ldc + k - 1] = 127, g[150 * ldg] = 0x1p70f;
            codes[160 * ldc] = -1, g[160 * ldg + n - 1] = 0x1p-70f;
          }
          fn_of<shift_matmul_fn>(v)(codes.data(), ldc, g.data(), ldg, o.data(), ldo, m, 0, k, 0, n);
          fn_of<shift_matmul_fn>(ref)(codes.data(), ldc, g.data(), ldg, r.data(), ldo, m, 0, k, 0, n);
        } else {
          std::vector<std::int32_t> q(m * ldg);
          for (auto& x : q) x = std::int32_t(rng.next() % 2000001) - 1000000;
          fn_of<shift_matmul_fixed_fn>(v)(codes.data(), ldc, q.data(), ldg, o.data(), ldo, m, 0, k, 0, n, 12);
          fn_of<shift_matmul_fixed_fn>(ref)(codes.data(), ldc, q.data(), ldg, r.data(), ldo, m, 0, k, 0, n, 12);
        }
        if (!same(o, r)) fail(shape_name(v, m, n, k));
      }
}

void check_optimizer(const Variant& v, Rng& rng) {
  const Variant& ref = reference_of(v.op);
  for (int kind = 0; kind < 5; ++kind)
    for (std::size_t n : {std::size_t(1), std::size_t(17), std::size_t(1000)}) {
      const OptimStep s{OptimKind(kind), 0.01f, 0.9f, 0.999f, 1e-8f, 1.0f, 1.0f, kind % 2};
      auto w = random_floats(rng, n), g = random_floats(rng, n), m = random_floats(rng, n), vv = random_floats(rng, n);
      for (auto& x : vv) x = std::fabs(x);
      // a non-finite gradient, in the vector body (n = 1000) and in the tail (n = 17), is flagged
      const float bad_g = n == 1 ? 1.0f : kind % 2 ? INFINITY : NAN;
      if (n > 1) g[n - 2] = bad_g;
      auto w2 = w, m2 = m, v2 = vv;
      ++g_checks;
      const bool flag = fn_of<optimizer_step_fn>(v)(w.data(), g.data(), m.data(), vv.data(), 0, n, s);
      const bool flag_ref = fn_of<optimizer_step_fn>(ref)(w2.data(), g.data(), m2.data(), v2.data(), 0, n, s);
      if (!same(w, w2) || !same(m, m2) || !same(vv, v2)) fail(shape_name(v, 0, 0, n) + " kind " + std::to_string(kind));
      if (flag != (n > 1) || flag_ref != (n > 1)) fail(shape_name(v, 0, 0, n) + " kind " + std::to_string(kind) + " NaN flag");
    }
}

void check_sampler(const Variant& v, Rng& rng) {
  // One implementation each: check the counter-based draws do not depend on the row split.
  const std::size_t rows = 7, k = 130, words = words_for(k);
  auto w = random_floats(rng, rows * k);
  std::vector<word_t> a(rows * words), b(rows * words), c(rows * words), d(rows * words);
  ++g_checks;
  if (v.op == OpId::binarize) {
    fn_of<binarize_fn>(v)(w.data(), k, k, 1.0f, true, 9, a.data(), 0, rows);
    fn_of<binarize_fn>(v)(w.data(), k, k, 1.0f, true, 9, b.data(), 0, 3);
    fn_of<binarize_fn>(v)(w.data(), k, k, 1.0f, true, 9, b.data(), 3, rows);
    if (!same(a, b)) fail(v.name);
  } else {
    fn_of<ternarize_fn>(v)(w.data(), k, k, 1.0f, true, 9, a.data(), c.data(), 0, rows);
    fn_of<ternarize_fn>(v)(w.data(), k, k, 1.0f, true, 9, b.data(), d.data(), 0, 4);
    fn_of<ternarize_fn>(v)(w.data(), k, k, 1.0f, true, 9, b.data(), d.data(), 4, rows);
    if (!same(a, b) || !same(c, d)) fail(v.name);
  }
}

void check_dropout(const Variant& v, Rng& rng) {
  // The rule (sample/driver.h) written out here; then splits at odd and even points give the same bits.
  const std::size_t n = 1001;
  const float p = 0.3f, keep = 1.0f / float(1.0 - 0.3);
  const std::uint64_t seed = 12345;
  auto x = random_floats(rng, n);
  std::vector<float> y(n), s(n), y2(n), s2(n), want_y(n), want_s(n);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t z = seed + (i / 2 + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const std::uint64_t u24 = i % 2 ? (z >> 16) & 0xFFFFFF : z >> 40;
    want_s[i] = double(u24) / 16777216.0 >= double(p) ? keep : 0.0f;
    want_y[i] = x[i] * want_s[i];
    kept += want_s[i] != 0.0f;
  }
  ++g_checks;
  fn_of<dropout_fn>(v)(x.data(), y.data(), s.data(), 0, n, p, keep, seed);
  fn_of<dropout_fn>(v)(x.data(), y2.data(), s2.data(), 0, 333, p, keep, seed);
  fn_of<dropout_fn>(v)(x.data(), y2.data(), s2.data(), 333, 600, p, keep, seed);
  fn_of<dropout_fn>(v)(x.data(), y2.data(), s2.data(), 600, n, p, keep, seed);
  if (!same(y, want_y) || !same(s, want_s) || !same(y, y2) || !same(s, s2)) fail(v.name);
  if (kept < 600 || kept > 800) fail(v.name + std::string(": kept ") + std::to_string(kept) + " of 1001 at p = 0.3");
}

void check_variant(const Variant& v, Rng& rng) {
  switch (v.op) {
    case OpId::pack_signs: return check_pack(v, rng);
    case OpId::xnor_gemm:
    case OpId::xnor_gemm_masked:
    case OpId::xnor_gemm_threshold:
    case OpId::xnor_gemm_threshold_panels: return check_xnor(v, rng);
    case OpId::int32_affine: return check_int32_affine(v, rng);
    case OpId::bitplane_combine: return check_bitplane_combine(v, rng);
    case OpId::bitplane_bytes: return check_bitplane_bytes(v, rng);
    case OpId::pack_bit_planes: return check_pack_bit_planes(v, rng);
    case OpId::pack_scaled_ternary: return check_pack_scaled_ternary(v, rng);
    case OpId::im2col_bits:
    case OpId::maxpool_bits:
    case OpId::first_conv_threshold: return check_conv(v, rng);
    case OpId::col2im_add: return check_col2im(v, rng);
    case OpId::maxpool_forward: return check_maxpool_forward(v, rng);
    case OpId::maxpool_backward: return check_maxpool_backward(v, rng);
    case OpId::binary_weight_matmul:
    case OpId::binary_weight_matmul_t:
    case OpId::ternary_weight_matmul:
    case OpId::ternary_weight_matmul_t: return check_weight_matmul(v, rng);
    case OpId::uint8_weight_matmul: return check_uint8(v, rng);
    case OpId::quantize_pow2:
    case OpId::dequantize_pow2: return check_pow2(v, rng);
    case OpId::shift_matmul:
    case OpId::shift_matmul_fixed: return check_shift(v, rng);
    case OpId::optimizer_step: return check_optimizer(v, rng);
    case OpId::batch_norm_train:
    case OpId::batch_norm_backward: return check_batch_norm(v, rng);
    case OpId::ste_sign:
    case OpId::ste_sign_backward: return check_ste_sign(v, rng);
    case OpId::transpose: return check_transpose(v, rng);
    case OpId::binarize:
    case OpId::ternarize: return check_sampler(v, rng);
    case OpId::dropout: return check_dropout(v, rng);
    case OpId::count_: break;
  }
  fail(std::string("no check for ") + v.name);
}

// ---- the registry itself ------------------------------------------------------

void check_registry() {
  std::vector<std::string> known;
  for (const auto& f : cpu_features()) known.push_back(f.name);
  for (int i = 0; i < kNumIsas; ++i)
    for (const std::string& feat : isa_required_features(Isa(i))) {
      bool found = false;
      for (const auto& k : known) found |= k == feat;
      if (!found) fail(std::string("isa_table.inc: ") + isa_name(Isa(i)) + " needs unknown feature " + feat);
    }
  for (int op = 0; op < kNumOps; ++op) {
    bool reference = false;
    for (const Variant& v : variants())
      reference |= v.op == OpId(op) && v.isa == Isa::scalar && std::strcmp(v.when, "true") == 0;
    if (!reference) fail(std::string("variants.inc: no unconditional scalar row for ") + op_name(OpId(op)));
  }
  const auto& rows = variants();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].fn) fail(std::string("variants.inc: no function for ") + rows[i].name);
    for (std::size_t j = 0; j < i; ++j)
      if (std::strcmp(rows[i].name, rows[j].name) == 0) fail(std::string("variants.inc: twice ") + rows[i].name);
  }
  ++g_checks;
}

// ---- the drivers, threads included, against the reference -----------------------

// The cost model's tries of the other way (threads.h), fed made-up wall times on a key no op uses: rare
// where splitting wins clearly, every few calls while it does not, and at once again after the choice turns.
void check_split_schedule() {
  static_assert(kNumSplitKeys + 3 <= kMaxSplitKeys, "three spare keys for this check");
  set_num_threads(2);
  const double work = 1e6 * kMinParallelNs;  // one size class of its own per call below
  auto run = [&](int key, int calls, double split_ratio, double inline_ratio) {
    int trials = 0, split_calls = 0;
    for (int i = 0; i < calls; ++i) {
      const SplitPlan plan = plan_split(key, work);
      const bool split = plan.chunks > 1;
      trials += plan.trial;
      split_calls += split;
      record_split(plan, split, work * (split ? split_ratio : inline_ratio));
    }
    return std::make_pair(trials, split_calls);
  };
  const int key = kMaxSplitKeys - 1;
  auto clear = run(key, 600, 0.5, 1.0);  // split 2x faster: measured, then a try every kExploreClear-th call
  ++g_checks;
  if (clear.first > 4 || clear.second < 590) fail("split schedule: clear margin, " + std::to_string(clear.first) + " tries");
  // The second core taken: the split samples turn the choice by themselves, then split is tried again soon.
  auto turned = run(key, 20, 3.0, 1.0);
  ++g_checks;
  if (turned.second > 8 || turned.first < 2) fail("split schedule: turned, " + std::to_string(turned.second) + " split, " + std::to_string(turned.first) + " tries");
  auto close = run(key - 1, 600, 0.9, 1.0);  // a small margin: tries up to every kExploreMax-th call
  ++g_checks;
  if (close.first < 600 / int(kExploreMax) - 4) fail("split schedule: small margin, " + std::to_string(close.first) + " tries");
  // Calls on 1 thread between 2-thread calls (a benchmark alternating the counts): their inline
  // samples count, but the tries stay rare.
  int alternating_tries = 0;
  for (int i = 0; i < 600; ++i) {
    set_num_threads(1);
    record_split(plan_split(key - 2, work), false, work);
    set_num_threads(2);
    alternating_tries += run(key - 2, 1, 0.5, 1.0).first;
  }
  ++g_checks;
  if (alternating_tries > 4) fail("split schedule: alternating 1 and 2 threads, " + std::to_string(alternating_tries) + " tries");
}

void check_drivers(Rng& rng) {
  const Isa best = available_isas().front();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    const Target t{best, -1}, ref{Isa::scalar, -1};
    {  // xnor_gemm, big enough to split
      const std::size_t m = 70, n = 300, k = 4000, words = words_for(k);
      auto a = random_bits(rng, m, k, words), b = random_bits(rng, n, k, words);
      std::vector<std::int32_t> c(m * n), r(m * n);
      driver::xnor_gemm(t, a.data(), words, b.data(), words, c.data(), n, m, n, std::int64_t(k));
      driver::xnor_gemm(ref, a.data(), words, b.data(), words, r.data(), n, m, n, std::int64_t(k));
      ++g_checks;
      if (!same(c, r)) fail("driver xnor_gemm threads " + std::to_string(threads));
    }
    for (bool transposed : {false, true}) {  // weight matmuls: identical for any thread count
      const std::size_t m = 37, n = 500, k = 700;
      auto s = random_bits(rng, n, k, words_for(k));
      const driver::WeightBits w{s.data(), words_for(k), nullptr, 0, n};
      const std::size_t cols_in = transposed ? n : k, cols_out = transposed ? k : n;
      auto a = random_floats(rng, m * cols_in);
      std::vector<float> y(m * cols_out), one(m * cols_out);
      const Target single = t;
      if (transposed) {
        driver::weight_matmul_t(t, a.data(), cols_in, w, y.data(), cols_out, m, k);
        set_num_threads(1);
        driver::weight_matmul_t(single, a.data(), cols_in, w, one.data(), cols_out, m, k);
      } else {
        driver::weight_matmul(t, a.data(), cols_in, w, y.data(), cols_out, m, k);
        set_num_threads(1);
        driver::weight_matmul(single, a.data(), cols_in, w, one.data(), cols_out, m, k);
      }
      set_num_threads(threads);
      ++g_checks;
      if (!same(y, one)) fail(std::string("driver weight_matmul") + (transposed ? "_t" : "") + " threads " +
                              std::to_string(threads));
    }
    {  // shift_matmul float and fixed
      const std::size_t m = 50, k = 300, n = 200;
      std::vector<std::int8_t> codes(m * k);
      for (auto& c : codes) c = std::int8_t(int(rng.next() % 21) + 54) * ((rng.next() & 1) ? 1 : -1);
      auto g = random_floats(rng, m * n);
      std::vector<float> o(k * n), r(k * n);
      driver::shift_matmul(t, codes.data(), k, g.data(), n, o.data(), n, m, k, n);
      driver::shift_matmul(ref, codes.data(), k, g.data(), n, r.data(), n, m, k, n);
      ++g_checks;
      if (!same(o, r)) fail("driver shift_matmul threads " + std::to_string(threads));
      driver::shift_matmul_fixed(t, codes.data(), k, g.data(), n, o.data(), n, m, k, n);
      driver::shift_matmul_fixed(ref, codes.data(), k, g.data(), n, r.data(), n, m, k, n);
      ++g_checks;
      if (!same(o, r)) fail("driver shift_matmul_fixed threads " + std::to_string(threads));
    }
    {  // the fused binary conv (im2col + panels or row GEMM) and the first conv over 1024 filters
      const ConvShape s = conv(9, 9, 2, 3, 1, 1);
      const std::size_t images = 3, f = 130, rows = images * s.oh * s.ow, row_words = 9 * s.words;
      auto x = random_bits(rng, images * s.h * s.w, 128, 2), w = random_bits(rng, f, 128 * 9, row_words);
      std::vector<std::int32_t> th(f);
      for (auto& v : th) v = std::int32_t(rng.next() % 200) - 100;
      auto flips = random_bits(rng, 1, f, words_for(f));
      std::vector<word_t> o(rows * words_for(f)), r(rows * words_for(f));
      driver::binary_conv2d_threshold(t, x.data(), s, images, w.data(), f, 128 * 9, th.data(), flips.data(), o.data());
      driver::binary_conv2d_threshold(ref, x.data(), s, images, w.data(), f, 128 * 9, th.data(), flips.data(),
                                      r.data());
      ++g_checks;
      if (!same(o, r)) fail("driver binary_conv2d_threshold threads " + std::to_string(threads));

      const ConvShape fs = conv(6, 5, 3, 3, 1, 1);
      const std::size_t ff = 1100, taps = 27, frows = 2 * fs.oh * fs.ow;
      auto fx = random_floats(rng, 2 * fs.h * fs.w * 3);
      auto fw = random_bits(rng, ff, taps, 1);
      auto ft = random_floats(rng, ff);
      auto ffl = random_bits(rng, 1, ff, words_for(ff));
      std::vector<word_t> fo(frows * words_for(ff)), fr(frows * words_for(ff));
      driver::first_conv_threshold(t, fx.data(), fs, 2, fw.data(), 1, ff, ft.data(), ffl.data(), fo.data());
      driver::first_conv_threshold(ref, fx.data(), fs, 2, fw.data(), 1, ff, ft.data(), ffl.data(), fr.data());
      ++g_checks;
      if (!same(fo, fr)) fail("driver first_conv_threshold (1100 filters) threads " + std::to_string(threads));
    }
    {  // pack_signs along the last and a middle axis
      const std::size_t outer = 33, k = 700, inner = 1;
      auto x = random_floats(rng, outer * k);
      std::vector<word_t> o(outer * words_for(k)), r(outer * words_for(k));
      driver::pack_signs(t, x.data(), DType::f32, outer, k, inner, o.data());
      driver::pack_signs(ref, x.data(), DType::f32, outer, k, inner, r.data());
      ++g_checks;
      if (!same(o, r)) fail("driver pack_signs threads " + std::to_string(threads));
    }
  }
  set_num_threads(default_num_threads());
}

}  // namespace
}  // namespace pbn

int main(int argc, char** argv) {
  using namespace pbn;
  init_dispatch();
  const std::string only = argc > 1 ? argv[1] : "";
  Rng rng{12345};
  check_registry();
  int ran = 0, skipped = 0;
  for (const Variant& v : variants()) {
    if (!only.empty() && std::string(v.name).find(only) == std::string::npos) continue;
    if (!isa_supported(v.isa)) {
      std::printf("skip %s (this CPU lacks %s: %s)\n", v.name, isa_name(v.isa), isa_missing_features(v.isa).c_str());
      ++skipped;
      continue;
    }
    const int before = g_failures;
    check_variant(v, rng);
    std::printf("%s %-42s (%s, when %s)\n", g_failures == before ? "ok  " : "FAIL", v.name, op_name(v.op), v.when);
    ++ran;
  }
  if (only.empty()) check_drivers(rng), check_split_schedule();
  std::printf("%d variants tested, %d skipped, %d checks, %d failures\n", ran, skipped, g_checks, g_failures);
  return g_failures ? 1 : 0;
}
