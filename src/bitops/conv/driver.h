// The packed-NHWC convolution family's driver (pybind-free): im2col_bits,
// maxpool_bits, the first conv layer (float input) and the fused binary conv
// layer (im2col + thresholded XNOR GEMM block by block, so no full patch
// matrix is ever materialised). Picks the variants (registry.h), splits the
// output pixels over threads (threads.h), calls the kernels. Geometry as in
// kernels.h (ConvShape); `images` is the batch; outputs are C-contiguous.
#pragma once

#include <string>

#include "../registry.h"
#include "../weight_matmul/driver.h"

namespace pbn {
namespace driver {

// Patch rows (images * oh * ow, kh * kw * words) of packed NHWC x.
void im2col_bits(const Target& t, const word_t* x, const ConvShape& s, std::size_t images, word_t* out);

// Max-pooled packed NHWC (images, oh, ow, words); flips: s.words words or null.
void maxpool_bits(const Target& t, const word_t* x, const ConvShape& s, std::size_t images, const word_t* flips,
                  word_t* out);

// out (images, s.h, s.w, s.words floats: the input gradient, s.ph, s.pw its padding) += the
// scatter of float patch rows cols (images * oh * ow, kh * kw * s.words), taps in order.
void col2im_add(const Target& t, const float* cols, const ConvShape& s, std::size_t images, float* out);

// A quantized conv layer's input gradient, fused: dx (images, s.h, s.w, s.words floats, unpadded: s.ph,
// s.pw the padding) += col2im((g @ W) * h) with W the packed filters (n rows of kh * kw * s.words), g the
// output gradient rows (images * oh * ow, n; stride ldg). In chunks of `chunk_images` images, each thread
// taking whole chunks: its product into a per-thread buffer, then the chunk's scatter, while the buffer is
// in cache. The same bits as the product of each chunk then col2im_add (any thread count).
void conv_input_grad(const Target& t, const float* g, std::size_t ldg, const WeightBits& w, float h,
                     const ConvShape& s, std::size_t images, std::size_t chunk_images, float* dx);

// y (images, oh, ow, s.words floats) = float max-pooling of x (images, s.h, s.w, s.words), no padding,
// np.maximum's rule tap by tap (kernels.h).
void maxpool_forward(const Target& t, const float* x, const ConvShape& s, std::size_t images, float* y);

// dx (images, s.h, s.w, s.words floats) = the gradient of non-overlapping float max-pooling: grad where x
// equals its window's max y, +0 elsewhere.
void maxpool_backward(const Target& t, const float* x, const float* y, const float* grad, const ConvShape& s,
                      std::size_t images, float* dx);

// First conv layer: float NHWC x (s.words = channels), n filters as packed +-1
// rows of kh * kw * channels bits (stride ldb words), float thresholds, flips
// (words_for(n) words) -> packed (images, oh, ow, words_for(n)). Any number of
// filters (the kernels take up to kFirstConvMaxFilters at a time).
void first_conv_threshold(const Target& t, const float* x, const ConvShape& s, std::size_t images,
                          const word_t* w_bits, std::size_t ldb, std::size_t n, const float* thresholds,
                          const word_t* flips, word_t* out);

// Fused binary conv layer: packed NHWC x, f filters as packed rows of
// kh * kw * words words (the NHWC filter layout), k = kh * kw * channels bits,
// int32 thresholds, flips (words_for(f) words) -> packed (images, oh, ow, words_for(f)).
void binary_conv2d_threshold(const Target& t, const word_t* x, const ConvShape& s, std::size_t images,
                             const word_t* w, std::size_t f, std::int64_t k, const std::int32_t* thresholds,
                             const word_t* flips, word_t* out);

// What binary_conv2d_threshold runs at `isa`: its im2col and GEMM variants.
std::string binary_conv2d_plan(Isa isa);

}  // namespace driver
}  // namespace pbn
