// Kernel signatures (one per op of ops.inc) and the prototypes of their
// variants (variants.inc). Kernels do no validation (the bindings do), take
// sizes and row strides in elements, and work on a sub-range so the family's
// driver can split work across threads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bits.h"
#include "isa.h"

namespace pbn {

enum class DType : int { f32 = 0, f64 = 1, i8 = 2, i16 = 3 };

// x is C-contiguous, viewed as (outer, k, inner); out is (outer, words_for(k), inner).
// Packs outer rows [o0, o1) and inner columns [i0, i1). Returns true if a NaN was seen.
using pack_signs_fn = bool(const void* x, DType dtype, std::size_t outer, std::size_t k, std::size_t inner,
                           word_t* out, std::size_t o0, std::size_t o1, std::size_t i0, std::size_t i1);

// A layer input whose values are +-s or 0 (BNN activations, maybe after
// dropout), rows [r0, r1) of k floats (rows k apart): sign bits (x < 0) and
// nonzero bits (x != 0) in rows of words_for(k) words (zero padding), one pass.
// Returns kHasZero if an element is 0 (-0 included) and kOtherValue if one is
// neither 0 nor +-s (another magnitude, NaN); its bits are then meaningless.
constexpr unsigned kHasZero = 1, kOtherValue = 2;
using pack_scaled_ternary_fn = unsigned(const float* x, std::size_t k, float s, word_t* signs, word_t* nonzero,
                                        std::size_t r0, std::size_t r1);

// The 8 bit planes of `rows` uint8 rows of k pixels (rows ldx bytes apart) as packed ±1 rows (bit
// contract: bit 1 where the plane's value is -1, i.e. where bit p of the pixel is clear; padding
// zero): plane p of row i at out + p * plane_stride + i * ldo (words). first_layer.bitplane_matmul.
using pack_bit_planes_fn = void(const std::uint8_t* x, std::size_t ldx, std::size_t rows, std::size_t k, word_t* out,
                                std::size_t ldo, std::size_t plane_stride);

// c[i, j] = k - 2 * popcount(a[i, :] ^ b[j, :]) for i < m, j < n, over `words` words.
using xnor_gemm_fn = void(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
                          std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k);

// xnor_gemm with ternary A: row i is t_i = sign(a_i) where its keep mask bit
// is set and 0 where it is clear (bit contract for a; mask bit set = kept,
// padding bits zero; sign bits outside the mask are ignored), times +-1 rows of b:
// c[i, j] = popcount(mask_i) - 2 * popcount((a_i ^ b_j) & mask_i) = sum_c t_ic * b_jc
// for i < m, j < n, over `words` words (no k: the mask says what counts).
using xnor_gemm_masked_fn = void(const word_t* a, std::size_t lda, const word_t* mask, std::size_t ldm,
                                 const word_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, std::size_t m,
                                 std::size_t n, std::size_t words);

// The float epilogue of an XNOR GEMM, in place: each int32 c[i, j] (i < rows,
// j < cols, rows ldc apart) becomes the float32 float(c) * scale (no multiply
// for a scale of 1: the same bits), + bias[j] when bias is not null (two
// roundings, no FMA), written over the int32 it came from (same size): a
// layer's outputs without a second array or pass.
using int32_affine_fn = void(std::int32_t* c, std::size_t ldc, std::size_t rows, std::size_t cols, float scale,
                             const float* bias);

// The bit-plane first layer's epilogue (first_layer.bitplane_matmul): c holds the XNOR dot
// products of the 8 ±1 bit planes of `rows` uint8 pixel rows with `cols` weight rows, plane p
// of pixel row i at c[p * plane_stride + i * ldc + j]; out[i, j] (rows ldo apart) becomes the
// exact int32 x . w = (sum_p c_p << p + 255 * w_sums[j]) >> 1 (shifts and additions; with
// |c_p| <= k < 2**22 nothing overflows).
using bitplane_combine_fn = void(const std::int32_t* c, std::size_t ldc, std::size_t plane_stride,
                                 const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t rows,
                                 std::size_t cols);

// The bit-plane first layer with each pixel's 8 planes left in its byte (bit p of a pixel is
// plane p there): out[i, j] (rows ldo apart) = the exact int32 x_i . w_j for m uint8 pixel rows x
// (rows ldx bytes apart) and n packed ±1 weight rows w (bit contract: bit 1 = -1, padding zero),
// k < 2**22 pixels per row; w_sums[j] = sum(w_j) (weight_row_sums). XOR with a weight's bit spread
// over a byte flips the pixel's 8 planes at once, and summing those bytes adds each plane's
// XNOR bits weighted 2^p: sum_c (x_c ^ (w_c = -1 ? 255 : 0)) = x . w + 255 * (number of -1 weights).
// For ISAs without a vector popcount (the driver's choice: driver::bitplane_by_bytes).
using bitplane_bytes_fn = void(const std::uint8_t* x, std::size_t ldx, const word_t* w, std::size_t ldw,
                               const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t m,
                               std::size_t n, std::size_t k);

// Fused binary layer: the xnor_gemm dot products d[i, j] compared with a
// per-output-channel threshold and packed as sign bits (bit contract):
// bit j of row i of c is (flip bit j of `flips` ? d > t[j] : d < t[j]), i.e. 1
// where the output sign is -1; bits past n in the words_for(n) words of each
// row of c (stride ldc words) are zero. Drivers split n at multiples of 64
// and offset c, b, thresholds (by j0) and flips (by j0 / 64 words).
using xnor_gemm_threshold_fn = void(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, word_t* c,
                                    std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,
                                    std::int64_t k, const std::int32_t* thresholds, const word_t* flips);

// The fused binary layer with B in column panels, for short rows (convs): panel
// p holds columns [8p, 8p + 8) word-interleaved, bp[(p * words + q) * 8 + l] =
// word q of column 8p + l (zero words for columns past n), so a SIMD lane is an
// output column and no horizontal reduction is needed. Same output contract as
// xnor_gemm_threshold; drivers split n at multiples of 64 and offset bp (by
// j0 / 8 panels), c, thresholds and flips.
using xnor_gemm_threshold_panels_fn = void(const word_t* a, std::size_t lda, const word_t* bp, word_t* c,
                                           std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,
                                           std::int64_t k, const std::int32_t* thresholds, const word_t* flips);

// Packed NHWC convolution geometry: input (n, h, w, words) uint64 (channels
// packed per pixel, bit contract), kernel kh x kw, stride, zero padding ph/pw
// (padded taps read as zero words, i.e. +1), output oh x ow.
struct ConvShape {
  std::size_t h, w, words, kh, kw, sh, sw, ph, pw, oh, ow;
};
// Patch rows [r0, r1) of im2col, row r = (image * oh + oy) * ow + ox holding
// kh * kw * words words in (ky, kx, word) order; out points at row r0, rows
// ldo words apart. Pure data movement.
using im2col_bits_fn = void(const word_t* x, const ConvShape& s, word_t* out, std::size_t ldo, std::size_t r0,
                            std::size_t r1);

// Max-pooling of packed +-1 NHWC activations (no padding; ph/pw unused):
// output pixel r = (image * oh + oy) * ow + ox for r in [r0, r1), out pointing at
// pixel 0. Per channel the window's AND (max of +-1: -1 only if all are -1), or,
// where the channel's bit in `flips` (words words; may be null) is set, the OR
// (the min: what sign(BN(max)) is for a decreasing batch norm).
using maxpool_bits_fn = void(const word_t* x, const ConvShape& s, const word_t* flips, word_t* out,
                             std::size_t r0, std::size_t r1);

// The adjoint of im2col on float rows: out (images, s.h, s.w, s.words floats)
// is the input gradient (unpadded: s.h, s.w the input's size, s.ph, s.pw its
// padding) and cols row r = (image * oh + oy) * ow + ox holds kh * kw * s.words
// floats in (ky, kx, channel) order. For images [i0, i1) (both pointers at image
// 0): out[image, oy * sh + ky - ph, ox * sw + kx - pw, :] += cols[r, tap (ky, kx), :]
// where that pixel is inside the image (taps in the padding are dropped), taps in
// order, so each element sums its terms in tap order.
using col2im_add_fn = void(const float* cols, const ConvShape& s, float* out, std::size_t i0, std::size_t i1);

// Float max-pooling, NHWC, no padding (windows may overlap): for images [i0, i1), y (images, oh, ow,
// s.words floats) = the maximum of each window of x (images, s.h, s.w, s.words), taken tap by tap in
// (ky, kx) order as numpy's np.maximum(y, tap): a NaN propagates and a tie takes the later tap (-0 vs +0).
using maxpool_forward_fn = void(const float* x, const ConvShape& s, float* y, std::size_t i0, std::size_t i1);

// The gradient of float max-pooling, windows not overlapping (s.sh >= s.kh, s.sw >= s.kw; no
// padding): for images [i0, i1), dx (images, s.h, s.w, s.words floats) = grad at the window positions
// where x equals the window's max y, +0 elsewhere. y and grad (images, oh, ow, s.words).
using maxpool_backward_fn = void(const float* x, const float* y, const float* grad, const ConvShape& s, float* dx,
                                 std::size_t i0, std::size_t i1);

// First conv layer: real float32 NHWC input x (s.words = channels floats per
// pixel, zero padding: padded taps are skipped) and +-1 filters given
// transposed: tap j = (ky * kw + kx) * C + c has a row of ldw >= words_for(n)
// words in `wpos`, bit f set where w[f, j] = +1 (padding bits zero). Additions only: per pixel
// P[f] = sum of x over the taps where w[f, j] = +1 and S = sum of x over all
// taps (float32, tap order), y[f] = (P[f] + P[f]) - S. Output bit f of pixel r
// is 1 (-1) where (flip bit f ? y > t[f] : y < t[f]); out points at pixel 0,
// pixels ldo >= words_for(n) words apart, of which the first words_for(n) are
// written (padding bits zero). Pixels [r0, r1); n <= kFirstConvMaxFilters (the
// driver runs more filters in groups).
constexpr std::size_t kFirstConvMaxFilters = 1024;
using first_conv_threshold_fn = void(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw,
                                     std::size_t n, const float* thresholds, const word_t* flips, word_t* out,
                                     std::size_t ldo, std::size_t r0, std::size_t r1);

// uint8 activations (pixels) times +-1 weights, exactly, in int32, additions
// only: y[i, j] = sum_c x[i, c] * w[j, c] for i < m, j < n over k columns.
// The weights come in 16-bit panels (pybitnet.inference.first_layer.pixel_panels):
// for row block r = j / 32 and column chunk q = c / 16, 32 uint16 at
// panels + (r * chunks + q) * 32; lane j % 32, bit c % 16 is 1 where
// w[j, c] = -1 (bits past k are ignored). `panels` points at the call's first
// block: drivers split n at multiples of 32 rows.
using uint8_weight_matmul_fn = void(const std::uint8_t* x, std::size_t ldx, const std::uint16_t* panels,
                                    std::size_t chunks, std::int32_t* y, std::size_t ldy, std::size_t m,
                                    std::size_t n, std::size_t k);

// Weight matmuls: real activations times packed +-1 (or -1/0/+1) weights W (n rows of
// length k, sign bits `s`, row stride lds words; ternary adds nonzero bits `nz`,
// stride ldnz; a sign bit is only ever set where the nonzero bit is). Additions
// and subtractions only: no floating-point multiply anywhere.
//
// Forward: y[i, j] = sum_c x[i, c] * w[j, c] for i < m, j < n (x rows have k floats).
using binary_weight_matmul_fn = void(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                     std::size_t ldy, std::size_t m, std::size_t n, std::size_t k);
using ternary_weight_matmul_fn = void(const float* x, std::size_t ldx, const word_t* s, std::size_t lds,
                                      const word_t* nz, std::size_t ldnz, float* y, std::size_t ldy, std::size_t m,
                                      std::size_t n, std::size_t k);
// Backward to the input: z[i, c] = sum_j g[i, j] * w[j, c] for i < m, c < k, summing
// j < n. `s`/`nz` point at the word holding column 0 of this range (drivers split
// K at multiples of 64), and z at its column 0; k is the width of the range.
using binary_weight_matmul_t_fn = void(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                       std::size_t ldz, std::size_t m, std::size_t n, std::size_t k);
using ternary_weight_matmul_t_fn = void(const float* g, std::size_t ldg, const word_t* s, std::size_t lds,
                                        const word_t* nz, std::size_t ldnz, float* z, std::size_t ldz, std::size_t m,
                                        std::size_t n, std::size_t k);

// The instrumented reference of the four weight matmuls (the same arithmetic
// as their scalar variants; nz null for binary weights): adds every
// floating-point addition/subtraction and multiplication it does to `tally`;
// tests hold the analytic counts of pybitnet.opcount against it.
struct OpTally {
  std::uint64_t additions = 0;
  std::uint64_t multiplications = 0;
};
void weight_matmul__counted(bool transposed, const float* a, std::size_t lda, const word_t* s, std::size_t lds,
                            const word_t* nz, std::size_t ldnz, float* out, std::size_t ldo, std::size_t m,
                            std::size_t n, std::size_t k, OpTally* tally);

// Power-of-two codes (pow2/pow2_code.h has the encoding). Both work on the flat
// range [i0, i1); element i's random bit depends only on (seed, i).
// quantize_pow2 returns true if a NaN was seen; dequantize_pow2 returns true if
// an invalid code (-128) was seen (the output is then incomplete).
using quantize_pow2_fn = bool(const float* x, std::int8_t* codes, std::size_t i0, std::size_t i1, bool stochastic,
                              int lo, int hi, std::uint64_t seed);
using dequantize_pow2_fn = bool(const std::int8_t* codes, float* out, std::size_t i0, std::size_t i1);

// out[k, n] = sum over i < m of dequantize(codes[i, k]) * g[i, n] for k in [k0, k1),
// n in [n0, n1), each product exact (+-2^e * g, rounded like an IEEE multiply
// only where it under/overflows) and summed in float32 in order of i, so every
// ISA gives the same bits. A zero code contributes +0 (NaN where g is Inf/NaN).
// Codes must be valid (no -128).
using shift_matmul_fn = void(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out,
                             std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0,
                             std::size_t n1);

// Fixed point: q = g scaled by 2^frac_bits and rounded to int32. Each term is
// +-(q << e) or +-round(q / 2^-e) (rounding right shift), summed exactly in
// int32 (the caller picks frac_bits so the sums cannot overflow), then
// out = float(sum) * 2^-frac_bits.
using shift_matmul_fixed_fn = void(const std::int8_t* codes, std::size_t ldc, const std::int32_t* q, std::size_t ldq,
                                   float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1,
                                   std::size_t n0, std::size_t n1, int frac_bits);

// Training batch norm of rows x (rows, C; rows `ld` floats apart; norm/batch_norm_body.h,
// the per-channel statistics in norm/driver.cpp), in two stages over a block of rows
// [r0, r1) and channels [c0, c1):
// - sums (`sums` not null): per channel S1 = sum(x - x0), S2 = sum((x - x0)^2) over
//   the rows in order, in float64 (x0 the first row), into sums[j] and sums[ld + j];
// - apply (`sums` null): xhat = (x - mean) * inv and y = xhat * gamma + beta, each
//   operation rounded to float32 (y and xhat are (rows, C) with the same ld).
struct BatchNormTrainArgs {
  const float* x;
  std::size_t ld;
  const float* x0;
  double* sums;
  const float *mean, *inv, *gamma, *beta;
  float *y, *xhat;
};
using batch_norm_train_fn = void(const BatchNormTrainArgs& a, std::size_t r0, std::size_t r1, std::size_t c0,
                                 std::size_t c1);
// Its backward, the same two stages: sums of g and g * xhat (float64, into sums[j] and
// sums[ld + j]); then dx = (g - (xhat * a + c)) * scale, a = dgamma / rows, c = dbeta / rows.
struct BatchNormBackwardArgs {
  const float *g, *xhat;
  std::size_t ld;
  double* sums;
  const float *a, *c, *scale;
  float* dx;
};
using batch_norm_backward_fn = void(const BatchNormBackwardArgs& a, std::size_t r0, std::size_t r1, std::size_t c0,
                                    std::size_t c1);

// The sign activation of elements [i0, i1) (i0 a multiple of 64; act/ste_sign_body.h):
// y = sign(x) with sign(0) = +1, gate bit i (word i / 64) = |x| <= 1 (inclusive) or < 1.
using ste_sign_fn = void(const float* x, float* y, word_t* gate, std::size_t i0, std::size_t i1, bool inclusive);
// Its straight-through gradient: dx = g * (gate bit ? 1 : 0).
using ste_sign_backward_fn = void(const float* g, const word_t* gate, float* dx, std::size_t i0, std::size_t i1);

// The float32 transpose, rows [i0, i1) of a (n columns, row stride lda): out[j * ldo + i] = a[i * lda + j]
// (layout/; a conv weight gradient's g, (N * OH * OW) x F, as the table kernel's F rows).
using transpose_fn = void(const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t n, std::size_t i0,
                          std::size_t i1);

// Fused optimizer update of elements [i0, i1): w, g, and the moments m, v
// (unused ones may be null). lr already holds the bias correction of step t.
// Returns true if a gradient was NaN or +-Inf or a new weight is NaN (written all the same).
enum class OptimKind : int { sgd = 0, momentum = 1, adam = 2, adamax = 3, shift_adamax = 4 };
struct OptimStep {
  OptimKind kind;
  float lr, b1, b2, eps, lr_scale, clip;
  int has_clip;
};
using optimizer_step_fn = bool(float* w, const float* g, float* m, float* v, std::size_t i0, std::size_t i1,
                               const OptimStep& s);

// Binarization / ternarization samplers (sample/sample_weights.h has the
// rules): w is (rows, k) float32 with row stride ldw; out rows are words_for(k)
// words. Fills rows [r0, r1); returns false if a NaN was seen. Randomness is
// counter-based (a pure function of seed and element index).
using binarize_fn = bool(const float* w, std::size_t ldw, std::size_t k, float scale, bool stochastic,
                         std::uint64_t seed, word_t* out, std::size_t r0, std::size_t r1);
using ternarize_fn = bool(const float* w, std::size_t ldw, std::size_t k, float scale, bool stochastic,
                          std::uint64_t seed, word_t* sign, word_t* nonzero, std::size_t r0, std::size_t r1);

// Inverted dropout of x[i0, i1): scale[i] = keep_scale where element i's
// counter-based uniform (sample/driver.h has the rule) is >= p, else 0;
// y[i] = x[i] * scale[i].
using dropout_fn = void(const float* x, float* y, float* scale, std::size_t i0, std::size_t i1, float p,
                        float keep_scale, std::uint64_t seed);

// The variants, from the registry. (On other architectures the x86 ones are
// weak and absent; registry.cpp leaves their rows out.)
#if defined(__x86_64__) || defined(_M_X64)
#define PBN_VARIANT(op, isa, name, when) op##_fn name;
#else
#define PBN_VARIANT(op, isa, name, when) __attribute__((weak)) op##_fn name;
#endif
#include "variants.inc"
#undef PBN_VARIANT

}  // namespace pbn
