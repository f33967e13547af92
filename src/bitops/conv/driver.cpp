#include "driver.h"

#include <algorithm>
#include <atomic>
#include <new>
#include <vector>

#include "../scratch.h"
#include "../threads.h"
#include "../xnor_gemm/driver.h"

namespace pbn {
namespace driver {

namespace {

constexpr std::size_t kBlockRows = 256;  // patch rows per fused block: a few dozen KB of scratch, L1/L2-resident
// Cost model (threads.h): nanoseconds per unit on one core, fastest ISA.
constexpr double kNsPerWordCopied = 0.07;    // im2col: words written; maxpool: words read
constexpr double kNsPerFloatAdded = 0.05;     // col2im: floats added; maxpool backward: floats written
constexpr double kNsPerFirstConvAdd = 0.014;  // first conv: pixels x taps x filters (masked adds, 16 lanes)

thread_local ThreadBuffer t_cols;  // a chunk's input-row gradient, per thread (scratch.h)

// The fused conv's GEMM: the column-panel kernel (no reduction, no K tail: the
// fast path for short conv rows) where the ISA has its own, else the row GEMM
// (or whichever of the two a test forces).
bool use_panels(const Target& t) {
  if (t.forced >= 0 && variants()[t.forced].op == OpId::xnor_gemm_threshold) return false;
  if (t.forced >= 0 && variants()[t.forced].op == OpId::xnor_gemm_threshold_panels) return true;
  return own_variant(OpId::xnor_gemm_threshold_panels, t.isa);
}

}  // namespace

void im2col_bits(const Target& t, const word_t* x, const ConvShape& s, std::size_t images, word_t* out) {
  const std::size_t rows = images * s.oh * s.ow, row_words = s.kh * s.kw * s.words;
  im2col_bits_fn* kernel = pbn::kernel<OpId::im2col_bits>(t, {rows, 0, row_words});
  split_1d(int(OpId::im2col_bits), rows, double(rows) * double(row_words) * kNsPerWordCopied, 1, [&](std::size_t r0, std::size_t r1) {
    kernel(x, s, out + r0 * row_words, row_words, r0, r1);
  });
}

void maxpool_bits(const Target& t, const word_t* x, const ConvShape& s, std::size_t images, const word_t* flips,
                  word_t* out) {
  const std::size_t rows = images * s.oh * s.ow;
  maxpool_bits_fn* kernel = pbn::kernel<OpId::maxpool_bits>(t, {rows, 0, s.words});
  split_1d(int(OpId::maxpool_bits), rows, double(rows) * double(s.words * s.kh * s.kw) * kNsPerWordCopied, 1,
           [&](std::size_t r0, std::size_t r1) { kernel(x, s, flips, out, r0, r1); });
}

void col2im_add(const Target& t, const float* cols, const ConvShape& s, std::size_t images, float* out) {
  const std::size_t per_image = s.oh * s.ow, row = s.kh * s.kw * s.words;
  col2im_add_fn* kernel = pbn::kernel<OpId::col2im_add>(t, {images, per_image, row});
  split_1d(int(OpId::col2im_add), images, double(images) * double(per_image) * double(row) * kNsPerFloatAdded, 1,
           [&](std::size_t i0, std::size_t i1) { kernel(cols, s, out, i0, i1); });
}

void conv_input_grad(const Target& t, const float* g, std::size_t ldg, const WeightBits& w, float h,
                     const ConvShape& s, std::size_t images, std::size_t chunk_images, float* dx) {
  const std::size_t per_image = s.oh * s.ow, k = s.kh * s.kw * s.words, plane = s.h * s.w * s.words;
  const std::size_t chunks = (images + chunk_images - 1) / chunk_images;
  col2im_add_fn* scatter = pbn::kernel<OpId::col2im_add>(t, {chunk_images, per_image, k});
  const double ns = weight_matmul_t_ns(images * per_image, w, k) + double(images * per_image) * double(k) * kNsPerFloatAdded;
  std::atomic<bool> out_of_memory{false};
  split_1d(kConvInputGradKey, chunks, ns, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      const std::size_t i0 = c * chunk_images, n_img = std::min(images, i0 + chunk_images) - i0;
      const std::size_t rows = n_img * per_image;
      auto* cols = static_cast<float*>(t_cols.get(rows * k * sizeof(float)));
      if (!cols) {
        out_of_memory = true;
        return;
      }
      const float* gc = g + i0 * per_image * ldg;
      const Shape shape{rows, w.n, k};  // the variant a call of this chunk's rows would pick
      if (!w.nz)
        pbn::kernel<OpId::binary_weight_matmul_t>(t, shape)(gc, ldg, w.s, w.lds, cols, k, rows, w.n, k);
      else
        pbn::kernel<OpId::ternary_weight_matmul_t>(t, shape)(gc, ldg, w.s, w.lds, w.nz, w.ldnz, cols, k, rows, w.n, k);
      if (h != 1.0f)  // numpy's y * float32(h) of the unfused path
        for (std::size_t e = 0; e < rows * k; ++e) cols[e] *= h;
      scatter(cols, s, dx + i0 * plane, 0, n_img);
    }
  });
  if (out_of_memory) throw std::bad_alloc();
}

void maxpool_forward(const Target& t, const float* x, const ConvShape& s, std::size_t images, float* y) {
  const std::size_t per_image = s.oh * s.ow * s.kh * s.kw * s.words;  // floats compared
  maxpool_forward_fn* kernel = pbn::kernel<OpId::maxpool_forward>(t, {images, s.oh * s.ow, s.words});
  split_1d(int(OpId::maxpool_forward), images, double(images) * double(per_image) * kNsPerFloatAdded, 1,
           [&](std::size_t i0, std::size_t i1) { kernel(x, s, y, i0, i1); });
}

void maxpool_backward(const Target& t, const float* x, const float* y, const float* grad, const ConvShape& s,
                      std::size_t images, float* dx) {
  const std::size_t per_image = s.h * s.w * s.words;
  maxpool_backward_fn* kernel = pbn::kernel<OpId::maxpool_backward>(t, {images, s.oh * s.ow, s.words});
  split_1d(int(OpId::maxpool_backward), images, double(images) * double(per_image) * kNsPerFloatAdded, 1,
           [&](std::size_t i0, std::size_t i1) { kernel(x, y, grad, s, dx, i0, i1); });
}

void first_conv_threshold(const Target& t, const float* x, const ConvShape& s, std::size_t images,
                          const word_t* w_bits, std::size_t ldb, std::size_t n, const float* thresholds,
                          const word_t* flips, word_t* out) {
  const std::size_t rows = images * s.oh * s.ow, k = s.kh * s.kw * s.words, ldw = words_for(n);
  // The filters transposed: per tap a row of ldw words, bit f set where w[f, tap] = +1.
  std::vector<word_t> wpos(k * ldw, 0);
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t tap = 0; tap < k; ++tap)
      if (!((w_bits[j * ldb + tap / 64] >> (tap % 64)) & 1)) wpos[tap * ldw + j / 64] |= word_t(1) << (j % 64);
  first_conv_threshold_fn* kernel = pbn::kernel<OpId::first_conv_threshold>(t, {rows, n, k});
  split_1d(int(OpId::first_conv_threshold), rows, double(rows) * double(k) * double(n) * kNsPerFirstConvAdd, 1, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t f0 = 0; f0 < n; f0 += kFirstConvMaxFilters) {  // groups of whole output words
      const std::size_t nf = min_sz(n - f0, kFirstConvMaxFilters), w0 = f0 / kWordBits;
      kernel(x, s, wpos.data() + w0, ldw, nf, thresholds + f0, flips + w0, out + w0, ldw, r0, r1);
    }
  });
}

void binary_conv2d_threshold(const Target& t, const word_t* x, const ConvShape& s, std::size_t images,
                             const word_t* w, std::size_t f, std::int64_t k, const std::int32_t* thresholds,
                             const word_t* flips, word_t* out) {
  const std::size_t rows = images * s.oh * s.ow, out_words = words_for(f);
  const std::size_t row_words = s.kh * s.kw * s.words, ld = aligned_ld(row_words);
  const bool panels = use_panels(t);
  const Shape block{kBlockRows, f, std::size_t(k)};
  const std::vector<word_t> bp = panels ? to_panels(w, row_words, f, row_words) : std::vector<word_t>();
  im2col_bits_fn* im2col = pbn::kernel<OpId::im2col_bits>(t, {kBlockRows, 0, row_words});
  xnor_gemm_threshold_fn* gemm = panels ? nullptr : pbn::kernel<OpId::xnor_gemm_threshold>(t, block);
  xnor_gemm_threshold_panels_fn* gemm_panels =
      panels ? pbn::kernel<OpId::xnor_gemm_threshold_panels>(t, block) : nullptr;
  const std::size_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  split_1d(kBinaryConvKey, blocks, xnor_gemm_ns(rows, f, row_words), 1, [&](std::size_t b0, std::size_t b1) {
    AlignedScratch patches(kBlockRows * ld);  // 64-byte aligned rows: the GEMM reads them in place
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t r0 = b * kBlockRows, r1 = min_sz(rows, r0 + kBlockRows);
      im2col(x, s, patches.data, ld, r0, r1);
      if (panels)
        gemm_panels(patches.data, ld, bp.data(), out + r0 * out_words, out_words, r1 - r0, f, row_words, k,
                    thresholds, flips);
      else
        gemm(patches.data, ld, w, row_words, out + r0 * out_words, out_words, r1 - r0, f, row_words, k, thresholds,
             flips);
    }
  });
}

std::string binary_conv2d_plan(Isa isa) {
  const Target t{isa, -1};
  const Shape block{kBlockRows, 128, 128 * 9};
  return std::string(peek(OpId::im2col_bits, t, {kBlockRows, 0, 18}).name) + " + " +
         peek(use_panels(t) ? OpId::xnor_gemm_threshold_panels : OpId::xnor_gemm_threshold, t, block).name;
}

}  // namespace driver
}  // namespace pbn
