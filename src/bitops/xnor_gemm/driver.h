// The xnor_gemm family's driver: picks the variant (registry.h), splits the
// output over threads (threads.h) and calls the kernel. No Python here: the
// bindings (bind_xnor_gemm*.cpp) check the arrays and call these; the native
// tests and benchmarks call them directly. Arguments are as in kernels.h, with
// k the logical row length in bits (rows hold words_for(k) words).
#pragma once

#include <vector>

#include "../affine.h"
#include "../registry.h"

namespace pbn {
namespace driver {

// c (m x n, row stride ldc) = k - 2 * popcount(a_i ^ b_j); with `epilogue` (affine.h, op int32_affine),
// float(c) * scale + bias on each chunk of c right after its products, while the chunk is in cache:
// c then holds float32 bits.
void xnor_gemm(const Target& t, const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
               std::size_t ldc, std::size_t m, std::size_t n, std::int64_t k, const Affine* epilogue = nullptr);

// Ternary A (sign bits a, keep mask): c = popcount(mask_i) - 2 * popcount((a_i ^ b_j) & mask_i).
void xnor_gemm_masked(const Target& t, const word_t* a, std::size_t lda, const word_t* mask, std::size_t ldm,
                      const word_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, std::size_t m, std::size_t n,
                      std::int64_t k, const Affine* epilogue = nullptr);

// The fused binary layer: packed sign bits of the thresholded dot products
// (c: m rows of words_for(n) words, stride ldc); flips holds words_for(n) words.
void xnor_gemm_threshold(const Target& t, const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,
                         word_t* c, std::size_t ldc, std::size_t m, std::size_t n, std::int64_t k,
                         const std::int32_t* thresholds, const word_t* flips);

// The same through the column-panel kernel, from plain B rows.
void xnor_gemm_threshold_panels(const Target& t, const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,
                                word_t* c, std::size_t ldc, std::size_t m, std::size_t n, std::int64_t k,
                                const std::int32_t* thresholds, const word_t* flips);

// The bit-plane first layer, exact int32 x . w (first_layer.bitplane_matmul): a holds the 8 ±1 bit
// planes of m uint8 pixel rows, plane p of row i at row p * m + i (pack_bit_planes); out (m x n, row
// stride ldo) = (sum_p (a_{p,i} . b_j) << p + 255 * w_sums[j]) >> 1. The planes' dot products are
// made and combined (op bitplane_combine) block by block in a per-thread buffer that stays in
// cache: no 8 x m x n int32 array. Where bitplane_by_bytes(t), the planes are put back into their
// pixels' bytes and bitplane_bytes below runs instead.
void bitplane_matmul(const Target& t, const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,
                     const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t m, std::size_t n,
                     std::int64_t k);

// What bitplane_matmul runs at `isa` (pybitnet.active_kernels(): "bitplane_matmul"): the bytes
// variant, or the XNOR GEMM of the planes + the combine, named for the MNIST first layer's shape.
std::string bitplane_matmul_plan(Isa isa);

// Whether the bit-plane first layer runs on `t` from the pixel bytes (op bitplane_bytes: an ISA
// without vector popcount has its own row; or a test forces one) rather than packed planes.
bool bitplane_by_bytes(const Target& t);

// The same x . w from the m uint8 pixel rows themselves (rows ldx bytes apart), each pixel's 8
// planes in its byte (op bitplane_bytes).
double bitplane_bytes_ns(std::size_t m, std::size_t n, std::size_t k);  // its cost model (one thread)
void bitplane_bytes(const Target& t, const std::uint8_t* x, std::size_t ldx, const word_t* b, std::size_t ldb,
                    const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t m, std::size_t n,
                    std::int64_t k);

// B rows (n, words) -> 8-column panels (xnor_gemm_threshold_panels' layout).
std::vector<word_t> to_panels(const word_t* b, std::size_t ldb, std::size_t n, std::size_t words);

// Single-thread time of an (m, n, words) XNOR GEMM, for the cost model.
double xnor_gemm_ns(std::size_t m, std::size_t n, std::size_t words);

}  // namespace driver
}  // namespace pbn
