// The power-of-two code (quantized back-propagation) shared by the quantizer,
// dequantizer and shift-add GEMMs.
//
// Encoding of one int8 code c:
//   c == 0            exactly 0
//   1 <= c <= 127     +2^(c - 64)      (exponent e = c - 64 in [-63, 63])
//   -127 <= c <= -1   -2^(-c - 64)
//   c == -128         invalid (rejected by dequantize_pow2 and shift_matmul)
// So |c| - 64 is the exponent and the sign of c is the sign of the value;
// every nonzero value is a normal float32, so dequantizing is exact.
//
// Quantizing x (float32), with exponents clipped to [lo, hi] (within [-63, 63]):
//   x == +-0           -> 0
//   NaN                -> error (the kernels report it; the binding raises)
//   otherwise          k = floor(log2|x|) and f = |x| / 2^k - 1 in [0, 1), read
//                      from the float's bits (exponent field, mantissa / 2^23);
//                      stochastic:    e = k + [u < f], u uniform on {0, 1/2^23, ...}
//                                     so E[2^e] = 2^k (1 + f) = |x|  (unbiased);
//                      deterministic: e = k + [log2(1 + f) >= 1/2], i.e. the
//                                     nearest power of two in log2 (no ties exist);
//                      e = clamp(e, lo, hi); code = sign(x) * (e + 64).
//   Denormals and values below 2^lo therefore become +-2^lo, values above
//   2^hi and +-Inf become +-2^hi (clipping, as the paper's code clips).
//
// The random bit of element i (its flat index in x) is a counter-based hash
// of (seed, i): results do not depend on the ISA, chunking or thread count.
#pragma once

#include <cstdint>
#include <cstring>

namespace pbn {

constexpr int kPow2Bias = 64;
constexpr int kPow2MinExp = -63;
constexpr int kPow2MaxExp = 63;
constexpr std::int8_t kPow2Invalid = -128;
// Mantissa (23 bits) at or above which log2(1 + m / 2^23) >= 1/2:
// ceil((sqrt(2) - 1) * 2^23); sqrt(2) is irrational, so there are no ties.
constexpr std::uint32_t kSqrt2Mantissa = 0x3504F4;

static inline std::uint32_t f32_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
static inline float bits_f32(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// A 32-bit integer hash with full avalanche (Wellons' "lowbias32").
static inline std::uint32_t pow2_mix32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// The two 32-bit keys of a 64-bit seed (splitmix64 finalizer, once per call).
struct Pow2Key {
  std::uint32_t k0, k1;
};
static inline Pow2Key pow2_key(std::uint64_t seed) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return {std::uint32_t(z), std::uint32_t(z >> 32)};
}

// 23 uniform random bits of element i. The SIMD kernels compute exactly this.
static inline std::uint32_t pow2_random23(Pow2Key key, std::uint64_t i) {
  const std::uint32_t h = pow2_mix32(std::uint32_t(i) ^ key.k0);
  return pow2_mix32(h ^ std::uint32_t(i >> 32) ^ key.k1) >> 9;
}

// The code of one value (the scalar reference the SIMD kernels must match).
// Returns kPow2Invalid for NaN.
static inline std::int8_t pow2_encode(float x, bool stochastic, int lo, int hi, Pow2Key key, std::uint64_t i) {
  const std::uint32_t u = f32_bits(x);
  const std::uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return kPow2Invalid;
  if (a == 0) return 0;
  const std::uint32_t mant = a & 0x7fffffu;
  int e = int(a >> 23) - 127;  // denormals: -127, below any lo; Inf: 128, above any hi
  if (stochastic ? pow2_random23(key, i) < mant : mant >= kSqrt2Mantissa) ++e;
  e = e < lo ? lo : (e > hi ? hi : e);
  const int c = e + kPow2Bias;
  return std::int8_t((u >> 31) ? -c : c);
}

// float32 bits of the value of a valid code.
static inline std::uint32_t pow2_decode_bits(std::int8_t c) {
  if (c == 0) return 0;
  const int mag = c < 0 ? -int(c) : int(c);
  return (c < 0 ? 0x80000000u : 0u) | (std::uint32_t(mag - kPow2Bias + 127) << 23);
}

// Exact x * 2^e, rounded to nearest even like an IEEE multiply, from bits
// only: the fallback for inputs or results outside the normal range
// (zero, denormals, overflow, Inf, NaN), where adding e to the exponent
// field would be wrong.
static inline std::uint32_t ldexp_bits(std::uint32_t u, int e) {
  const std::uint32_t sign = u & 0x80000000u, a = u & 0x7fffffffu;
  if (a == 0 || a >= 0x7f800000u) return u;  // +-0, Inf, NaN
  std::uint32_t s;
  int E;  // |x| = s * 2^E
  if ((a >> 23) == 0) {
    s = a;
    E = -149;
  } else {
    s = (a & 0x7fffffu) | 0x800000u;
    E = int(a >> 23) - 150;
  }
  while (s < 0x800000u) {  // normalize a denormal input
    s <<= 1;
    --E;
  }
  const int biased = E + e + 150;
  if (biased >= 255) return sign | 0x7f800000u;
  if (biased >= 1) return sign | (std::uint32_t(biased) << 23) | (s & 0x7fffffu);
  const int sh = 1 - biased;  // denormal result: round s / 2^sh to nearest even
  if (sh > 24) return sign;
  std::uint32_t q = s >> sh;
  const std::uint32_t rem = s & ((1u << sh) - 1), half = 1u << (sh - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  return sign | q;  // q == 2^23 encodes the smallest normal, as it should
}

// Bits of sign * 2^e * x: integer add on the exponent field when input and
// result are normal (the hot path), else ldexp_bits. `flip` is 0 or 0x80000000.
static inline std::uint32_t scale_pow2_bits(std::uint32_t u, int e, std::uint32_t flip) {
  const int ef = int((u >> 23) & 0xff);
  if (ef >= 1 && ef <= 254 && ef + e >= 1 && ef + e <= 254) return (u + (std::uint32_t(e) << 23)) ^ flip;
  return ldexp_bits(u, e) ^ flip;
}

// One term of the fixed-point variant: q * 2^e for e >= 0 (exact; the caller
// keeps it in range), round(q / 2^-e) for e < 0 (rounding right shift, ties
// up; shifts past 31 give 0 since |q| < 2^30).
static inline std::int32_t shift_fixed(std::int32_t q, int e) {
  if (e >= 0) return e >= 32 ? 0 : std::int32_t(std::uint32_t(q) << e);
  const int s = -e > 31 ? 31 : -e;
  return std::int32_t((std::int64_t(q) + (std::int64_t(1) << (s - 1))) >> s);
}

// The exponent of a valid nonzero code.
static inline int pow2_exponent(std::int8_t c) { return (c < 0 ? -int(c) : int(c)) - kPow2Bias; }

// Bits of one product of the float shift-add GEMM, code c times g (bits gb):
// +0 for a zero code (NaN where g is Inf/NaN, as 0 * Inf), else the exact
// +-2^e * g. What the scalar reference adds; the SIMD kernels' exact path.
static inline std::uint32_t pow2_product_bits(std::int8_t c, std::uint32_t gb) {
  if (c == 0) return (gb & 0x7fffffffu) >= 0x7f800000u ? 0x7fc00000u : 0u;
  return scale_pow2_bits(gb, pow2_exponent(c), c < 0 ? 0x80000000u : 0u);
}

}  // namespace pbn
