#include "driver.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "../threads.h"
#include "pow2_code.h"

namespace pbn {
namespace driver {

namespace {

constexpr std::size_t kFlatAlign = 64;  // whole cache lines of codes per chunk
// Output columns per chunk: whole tiles of the widest kernel (AVX-512: 4 x 16 floats).
constexpr std::size_t kColumnAlign = 64;
// Cost model (threads.h): ns per element or per (batch row, code column, g
// column) product on one core, fastest ISA (quantize: 409600 floats in ~0.2 ms).
constexpr double kNsPerQuantized = 0.4;
constexpr double kNsPerDequantized = 0.15;
constexpr double kNsPerShiftTerm = 0.016;  // shift_matmul_expadd__avx512: 100x4096x4096 in 26.6 ms (Zen 5)
constexpr double kNsPerFixedShiftTerm = 0.03;  // the table kernel

// Splits the (k, n) output: by column blocks when n is wide enough, else by rows. body(k0, k1, n0, n1).
template <class Body>
void split_output(OpId op, std::size_t m, std::size_t k, std::size_t n, const Body& body) {
  const double ns = op == OpId::shift_matmul ? kNsPerShiftTerm : kNsPerFixedShiftTerm;
  split_2d(int(op), k, n, double(m) * double(k) * double(n) * ns, Cut{1, kColumnAlign, false, 1}, body);
}

// Round to nearest even (|v| < 2^31).
inline std::int32_t round_to_int(float v) {
#if defined(__SSE__)
  return _mm_cvtss_si32(_mm_set_ss(v));  // MXCSR default: nearest even
#else
  return std::int32_t(std::nearbyint(v));
#endif
}

}  // namespace

bool quantize_pow2(const Target& t, const float* x, std::int8_t* codes, std::size_t n, bool stochastic, int lo,
                   int hi, std::uint64_t seed) {
  quantize_pow2_fn* kernel = pbn::kernel<OpId::quantize_pow2>(t, {0, 0, n});
  std::atomic<bool> nan{false};
  split_1d(int(OpId::quantize_pow2), n, double(n) * kNsPerQuantized, kFlatAlign, [&](std::size_t i0, std::size_t i1) {
    if (kernel(x, codes, i0, i1, stochastic, lo, hi, seed)) nan = true;
  });
  return nan;
}

bool dequantize_pow2(const Target& t, const std::int8_t* codes, float* out, std::size_t n) {
  dequantize_pow2_fn* kernel = pbn::kernel<OpId::dequantize_pow2>(t, {0, 0, n});
  std::atomic<bool> bad{false};
  split_1d(int(OpId::dequantize_pow2), n, double(n) * kNsPerDequantized, kFlatAlign, [&](std::size_t i0, std::size_t i1) {
    if (kernel(codes, out, i0, i1)) bad = true;
  });
  return bad;
}

void shift_matmul(const Target& t, const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg,
                  float* out, std::size_t ldo, std::size_t m, std::size_t k, std::size_t n) {
  if (k == 0 || n == 0) return;
  if (m == 0) {  // empty sums
    for (std::size_t r = 0; r < k; ++r)
      for (std::size_t c = 0; c < n; ++c) out[r * ldo + c] = 0.0f;
    return;
  }
  shift_matmul_fn* kernel = pbn::kernel<OpId::shift_matmul>(t, {m, n, k});
  split_output(OpId::shift_matmul, m, k, n, [&](std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1) {
    kernel(codes, ldc, g, ldg, out, ldo, m, k0, k1, n0, n1);
  });
}

// 2^-149 is float32's smallest subnormal: a coarser grid than the sum's would round it.
constexpr int kMaxFracBits = 149;

int fixed_frac_bits(double a, double gmax) {
  if (a == 0.0 || gmax == 0.0) return 0;
  int x_ag, x_g;
  std::frexp(a * gmax, &x_ag);  // a * gmax < 2^x_ag
  std::frexp(gmax, &x_g);       // gmax < 2^x_g
  return std::min({29 - x_ag, 29 - x_g, kMaxFracBits});
}

int shift_matmul_frac_bits(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, std::size_t m,
                           std::size_t k, std::size_t n) {
  double pow2[256];  // |value| of each code, by its byte
  for (int b = 0; b < 256; ++b) pow2[b] = b ? std::fabs(double(bits_f32(pow2_decode_bits(std::int8_t(b))))) : 0.0;
  std::vector<double> col(k, 0.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < k; ++j) col[j] += pow2[std::uint8_t(codes[i * ldc + j])];
  double a = 0.0, gmax = 0.0;
  for (double v : col) a = v > a ? v : a;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const float v = g[i * ldg + j];
      if (!std::isfinite(v)) throw std::invalid_argument("g must be finite for method='fixed' (it has Inf or NaN)");
      gmax = std::fabs(double(v)) > gmax ? std::fabs(double(v)) : gmax;
    }
  if (a + double(m) > double(1 << 30))
    throw std::invalid_argument("codes' exponents are too large for method='fixed' (max column sum of 2^e is " +
                                std::to_string(a) + " > 2^30 - M); use method='float'");
  return fixed_frac_bits(a, gmax);
}

void shift_matmul_fixed(const Target& t, const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg,
                        float* out, std::size_t ldo, std::size_t m, std::size_t k, std::size_t n) {
  if (k == 0 || n == 0 || m == 0) return shift_matmul(t, codes, ldc, g, ldg, out, ldo, m, k, n);
  const int frac_bits = shift_matmul_frac_bits(codes, ldc, g, ldg, m, k, n);
  std::vector<std::int32_t> q(m * n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j)
      // g * 2^F is exact (or below 2^-126, rounding to 0 anyway); cvtss2si rounds to nearest even.
      q[i * n + j] = round_to_int(bits_f32(ldexp_bits(f32_bits(g[i * ldg + j]), frac_bits)));
  shift_matmul_fixed_fn* kernel = pbn::kernel<OpId::shift_matmul_fixed>(t, {m, n, k});
  split_output(OpId::shift_matmul_fixed, m, k, n, [&](std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1) {
    kernel(codes, ldc, q.data(), n, out, ldo, m, k0, k1, n0, n1, frac_bits);
  });
}

}  // namespace driver
}  // namespace pbn
