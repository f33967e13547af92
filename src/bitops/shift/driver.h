// The quantized back-propagation family's driver (pybind-free): the
// power-of-two quantizer and dequantizer and the shift-add weight gradient,
// float and fixed point (whose numerics, the scale 2^F and q = round(g 2^F),
// live here). Picks the variant (registry.h), splits the work over threads
// (threads.h), calls the kernel. Arguments as in kernels.h.
#pragma once

#include "../registry.h"

namespace pbn {
namespace driver {

// codes[i] for the n floats of x; returns true if a NaN was seen.
bool quantize_pow2(const Target& t, const float* x, std::int8_t* codes, std::size_t n, bool stochastic, int lo,
                   int hi, std::uint64_t seed);
// out[i] for the n codes; returns true if an invalid code (-128) was seen.
bool dequantize_pow2(const Target& t, const std::int8_t* codes, float* out, std::size_t n);

// out (k x n, stride ldo) = dequantize_pow2(codes).T @ g for codes (m x k) and
// g (m x n), every product exact, summed in float32 in order of the batch row.
void shift_matmul(const Target& t, const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg,
                  float* out, std::size_t ldo, std::size_t m, std::size_t k, std::size_t n);
// The same in fixed point (docs/KERNELS.md): g scaled by 2^F and rounded to
// int32, exact int32 sums, scaled back. Throws std::invalid_argument if g is
// not finite or the codes' exponents leave no room for int32 sums.
void shift_matmul_fixed(const Target& t, const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg,
                        float* out, std::size_t ldo, std::size_t m, std::size_t k, std::size_t n);

// The fraction bits F shift_matmul_fixed uses for these operands.
int shift_matmul_frac_bits(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, std::size_t m,
                           std::size_t k, std::size_t n);

// F from A = max_k sum_i 2^e[i,k] and gmax = max |g|: the largest F with
//   A * gmax * 2^F <= 2^29  (every int32 partial sum stays below 2^29 + (A + M) / 2 < 2^31),
//   gmax * 2^F <= 2^29      (q = round(g * 2^F) itself fits in int32 with room: |q| <= 2^29) and
//   F <= 149                (sum * 2^-F lies on float32's grid: a subnormal output is exact).
// The second condition binds when A < 1 (small codes): without it g * 2^F
// overflowed int32 (cvtss2si gives -2^31) and outputs had the wrong sign
// (docs/KERNELS.md). Without the third, tiny operands (F = 169) rounded outputs
// to float32's subnormal grid, outside the documented bound (a fuzzer finding).
int fixed_frac_bits(double a, double gmax);

}  // namespace driver
}  // namespace pbn
