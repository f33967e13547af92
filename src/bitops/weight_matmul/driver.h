// The weight-matmul family's driver (pybind-free): real activations times
// packed +-1 or -1/0/+1 weights, forward and transposed, and uint8 pixels times
// +-1 weights. Picks the variant (registry.h: e.g. the table-lookup transposed
// kernel for 16+ rows), splits the work over threads (threads.h), calls the
// kernel. Arguments as in kernels.h.
#pragma once

#include "../affine.h"
#include "../registry.h"

namespace pbn {
namespace driver {

// Packed weights W: n rows of k, sign bits s (stride lds words) and, for
// ternary weights, nonzero bits nz (stride ldnz); nz == nullptr: +-1 weights.
// `panels`: nullptr, or dword_panels of s (dword_panels.h), which the AVX-512
// table kernel reads in place of transposing s (same bits) where the registry
// picks it.
struct WeightBits {
  const word_t* s;
  std::size_t lds;
  const word_t* nz;
  std::size_t ldnz;
  std::size_t n;
  const std::uint32_t* panels = nullptr;
};

// y (m x n, stride ldy) = x (m x k) @ W.T, then the epilogue (affine.h) on each thread's rows
// while they are in cache
void weight_matmul(const Target& t, const float* x, std::size_t ldx, const WeightBits& w, float* y, std::size_t ldy,
                   std::size_t m, std::size_t k, Affine epilogue = {});
// Single-thread time of weight_matmul (the cost model's estimate, threads.h)
double weight_matmul_ns(std::size_t m, const WeightBits& w, std::size_t k);
// z (m x k, stride ldz) = g (m x n) @ W
void weight_matmul_t(const Target& t, const float* g, std::size_t ldg, const WeightBits& w, float* z,
                     std::size_t ldz, std::size_t m, std::size_t k);
// Single-thread time of the transposed product of m rows of g with W (k output columns), for the cost
// model of the drivers that compose it with other work.
double weight_matmul_t_ns(std::size_t m, const WeightBits& w, std::size_t k);
// Either, through the instrumented reference (one thread), counting its operations.
void weight_matmul_counted(bool transposed, const float* a, std::size_t lda, const WeightBits& w, float* out,
                           std::size_t ldo, std::size_t m, std::size_t k, OpTally* tally);

// Exact int32 y (m x n, stride ldy) = x (uint8, m x k) @ W.T, W in the 16-bit
// panels of kernels.h (chunks = ceil(k / 16)).
void uint8_weight_matmul(const Target& t, const std::uint8_t* x, std::size_t ldx, const std::uint16_t* panels,
                         std::size_t chunks, std::int32_t* y, std::size_t ldy, std::size_t m, std::size_t n,
                         std::size_t k);
// Its single-thread time (the cost model's estimate, threads.h)
double uint8_weight_matmul_ns(std::size_t m, std::size_t n, std::size_t k);

}  // namespace driver
}  // namespace pbn
