#include "packed_mlp.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "../pack/driver.h"
#include "../weight_matmul/driver.h"
#include "../weight_matmul/pixel_panels.h"
#include "../xnor_gemm/driver.h"

namespace pbn {

namespace {

constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kMinHugeBytes = std::size_t(1) << 20;  // smaller: not worth a huge page

std::size_t layer_bytes(std::size_t n, std::size_t k) { return (n * words_for(k) * sizeof(word_t) + 63) / 64 * 64; }

}  // namespace

PackedMlp::PackedMlp(FirstLayer first, std::vector<HiddenLayer> hidden, LastLayer last, std::vector<float> pixel_t)
    : first_(std::move(first)), hidden_(std::move(hidden)), last_(std::move(last)), pixel_t_(std::move(pixel_t)) {
  bytes_ = layer_bytes(first_.n, first_.k) + layer_bytes(last_.n, last_.k);
  for (const auto& h : hidden_) bytes_ += layer_bytes(h.n, h.k);
  const bool big = bytes_ >= kMinHugeBytes;
  const std::size_t align = big ? kHugePage : 64;
  block_ = std::aligned_alloc(align, (bytes_ + align - 1) / align * align);
  if (!block_) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Before the first touch, so the pages are huge from the start (ignored where THP is off).
  if (big) huge_ = madvise(block_, (bytes_ + align - 1) / align * align, MADV_HUGEPAGE) == 0;
#endif
  char* p = static_cast<char*>(block_);
  auto place = [&p](const word_t*& w, std::size_t n, std::size_t k) {
    const std::size_t bytes = n * words_for(k) * sizeof(word_t);
    if (bytes) std::memcpy(p, w, bytes);
    w = reinterpret_cast<const word_t*>(p);
    p += layer_bytes(n, k);
  };
  place(first_.w, first_.n, first_.k);
  for (auto& h : hidden_) place(h.w, h.n, h.k);
  place(last_.w, last_.n, last_.k);
  if (!pixel_t_.empty()) {
    const std::size_t panel_bytes = (pixel_panel_elements(first_.n, first_.k) * sizeof(std::uint16_t) + 63) / 64 * 64;
    panels_.reset(static_cast<std::uint16_t*>(std::aligned_alloc(64, panel_bytes)));
    if (!panels_) throw std::bad_alloc();
    pbn::pixel_panels(first_.w, first_.n, first_.k, panels_.get());
    w_sums_.resize(first_.n);
    pbn::weight_row_sums(first_.w, first_.n, first_.k, w_sums_.data());
  }
}

PackedMlp::~PackedMlp() { std::free(block_); }

bool PackedMlp::logits(const Target& t, const float* x, std::size_t ldx, std::size_t m, float* out) const {
  if (m == 0) return true;
  // First layer: the trained layer's float sums, then pack_signs((y - t) * s).
  std::vector<float> y(m * first_.n);
  driver::weight_matmul(t, x, ldx, driver::WeightBits{first_.w, words_for(first_.k), nullptr, 0, first_.n}, y.data(),
                        first_.n, m, first_.k);
  return finish(t, y.data(), first_.t, m, out);
}

bool PackedMlp::logits_pixels(const Target& t, const std::uint8_t* p, std::size_t ldp, std::size_t m, bool bitplanes,
                              float* out) const {
  if (m == 0) return true;
  const std::size_t n = first_.n, k = first_.k, words = words_for(k);
  std::vector<std::int32_t> dot(m * n);
  if (bitplanes) {
    std::vector<word_t> planes(8 * m * words);
    driver::pack_bit_planes(t, p, m, k, planes.data());
    driver::bitplane_matmul(t, planes.data(), words, first_.w, words, w_sums_.data(), dot.data(), n, m, n,
                            std::int64_t(k));
  } else {
    driver::uint8_weight_matmul(t, p, ldp, panels_.get(), (k + 15) / 16, dot.data(), n, m, n, k);
  }
  // float32 as PixelInput's astype(float32): exact while |p . w| <= 255 k < 2**24, rounded the same way beyond
  std::vector<float> y(dot.begin(), dot.end());
  return finish(t, y.data(), pixel_t_, m, out);
}

bool PackedMlp::finish(const Target& t, float* y, const std::vector<float>& thresholds, std::size_t m,
                       float* out) const {
  for (std::size_t i = 0; i < m; ++i) {
    float* row = y + i * first_.n;
    for (std::size_t j = 0; j < first_.n; ++j) {
      row[j] -= thresholds[j];  // two rounded float32 operations, as numpy's y -= t; y *= s
      row[j] *= first_.s[j];
    }
  }
  std::vector<word_t> bits(m * words_for(first_.n));
  if (driver::pack_signs(t, y, DType::f32, m, first_.n, 1, bits.data())) return false;
  std::size_t features = first_.n;
  // Hidden layers: the fused XNOR GEMM + threshold, packed signs in and out.
  std::vector<word_t> next;
  for (const auto& h : hidden_) {
    next.assign(m * words_for(h.n), 0);
    driver::xnor_gemm_threshold(t, bits.data(), words_for(features), h.w, words_for(h.k), next.data(),
                                words_for(h.n), m, h.n, std::int64_t(h.k), h.thresholds.data(), h.flips.data());
    bits.swap(next);
    features = h.n;
  }
  // Last layer: int32 dot products, then numpy's int32 * float32 + float32 (in float64) -> float32.
  std::vector<std::int32_t> dot(m * last_.n);
  driver::xnor_gemm(t, bits.data(), words_for(features), last_.w, words_for(last_.k), dot.data(), last_.n, m, last_.n,
                    std::int64_t(last_.k));
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < last_.n; ++j) {
      const double v = double(dot[i * last_.n + j]) * double(last_.scale[j]);
      out[i * last_.n + j] = float(v + double(last_.shift[j]));
    }
  return true;
}

}  // namespace pbn
