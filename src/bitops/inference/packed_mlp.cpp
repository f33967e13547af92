#include "packed_mlp.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "../pack/driver.h"
#include "../threads.h"
#include "../weight_matmul/driver.h"
#include "../weight_matmul/dword_panels.h"
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
  if (isa_supported(Isa::avx512)) {
    const std::size_t bytes = (dword_panel_elements(first_.n, first_.k) * sizeof(std::uint32_t) + 63) / 64 * 64;
    dword_panels_.reset(static_cast<std::uint32_t*>(std::aligned_alloc(64, bytes)));
    if (!dword_panels_) throw std::bad_alloc();
    dword_panels(first_.w, words_for(first_.k), first_.n, first_.k, dword_panels_.get());
  }
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

namespace {

// A forward whose layers are each too small to split (below kMinParallelNs) runs as one job of
// phases, one per layer (threads.h run_phases), from this estimated single-thread time (the
// drivers' cost model, which the cost model's measurements then judge): the MNIST MLP at batch 1
// is ~32 us by it from float32 rows, ~21 us from pixels (80-120 and 60-100 us of wall time on one
// Zen 5 core, its 4 MiB of hidden weights from L3), where one wake-up costs ~10 us.
constexpr double kMinPhasedNs = 10e3;
// Chunks per thread of a split phase: the first layer's table kernel rebuilds its tables per
// call, so fewer there; the hidden layers' more, so a worker that joins late still finds some.
constexpr std::size_t kFirstChunksPerThread = 2;
constexpr std::size_t kHiddenChunksPerThread = 4;

// Columns [j0, j1) of chunk c of `chunks` over n outputs, at whole words of packed output.
void chunk_columns(std::size_t n, std::size_t chunks, std::size_t c, std::size_t& j0, std::size_t& j1) {
  const std::size_t words = words_for(n), step = (words + chunks - 1) / chunks;
  j0 = std::min(n, c * step * kWordBits);
  j1 = std::min(n, (c + 1) * step * kWordBits);
}

}  // namespace

bool PackedMlp::logits(const Target& t, const float* x, std::size_t ldx, std::size_t m, float* out) const {
  if (m == 0) return true;
  // First layer: the trained layer's float sums, then pack_signs((y - t) * s).
  const driver::WeightBits w{first_.w, words_for(first_.k), nullptr, 0, first_.n, dword_panels_.get()};
  return forward(t, m, kPackedMlpKey, driver::weight_matmul_ns(m, w, first_.k), first_.t, out,
                 [&](std::size_t j0, std::size_t j1, float* y) {  // j0: a multiple of 64 (chunk_columns)
                   const std::uint32_t* panels = w.panels ? w.panels + j0 * dword_panel_columns(first_.k) : nullptr;
                   const driver::WeightBits cols{w.s + j0 * w.lds, w.lds, nullptr, 0, j1 - j0, panels};
                   driver::weight_matmul(t, x, ldx, cols, y + j0, first_.n, m, first_.k);
                 });
}

bool PackedMlp::logits_pixels(const Target& t, const std::uint8_t* p, std::size_t ldp, std::size_t m, bool bitplanes,
                              float* out) const {
  if (m == 0) return true;
  const std::size_t n = first_.n, k = first_.k, words = words_for(k), chunks = pixel_panel_chunks(k);
  // bit planes from the pixel bytes where the ISA has no vector popcount (the bytes are the planes)
  const bool bytes = bitplanes && driver::bitplane_by_bytes(t), packed = bitplanes && !bytes;
  std::vector<word_t> planes(packed ? 8 * m * words : 0);
  if (packed) driver::pack_bit_planes(t, p, m, k, planes.data());
  const double ns = bytes    ? driver::bitplane_bytes_ns(m, n, k)
                    : packed ? driver::xnor_gemm_ns(8 * m, n, words)
                             : driver::uint8_weight_matmul_ns(m, n, k);
  std::vector<std::int32_t> dot(m * n);
  const int key = bitplanes ? kPackedMlpBitPlanesKey : kPackedMlpPixelsKey;
  return forward(t, m, key, ns, pixel_t_, out, [&](std::size_t j0, std::size_t j1, float* y) {
    if (bytes)
      driver::bitplane_bytes(t, p, ldp, first_.w + j0 * words, words, w_sums_.data() + j0, dot.data() + j0, n, m,
                             j1 - j0, std::int64_t(k));
    else if (packed)
      driver::bitplane_matmul(t, planes.data(), words, first_.w + j0 * words, words, w_sums_.data() + j0,
                              dot.data() + j0, n, m, j1 - j0, std::int64_t(k));
    else
      driver::uint8_weight_matmul(t, p, ldp, panels_.get() + j0 * chunks, chunks, dot.data() + j0, n, m, j1 - j0, k);
    // float32 as PixelInput's astype(float32): exact while |p . w| <= 255 k < 2**24, rounded the same way beyond
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = j0; j < j1; ++j) y[i * n + j] = float(dot[i * n + j]);
  });
}

template <class First>
bool PackedMlp::forward(const Target& t, std::size_t m, int key, double first_ns, const std::vector<float>& thresholds,
                        float* out, const First& first) const {
  const std::size_t n1 = first_.n, layers = hidden_.size();
  // bits[l]: the packed signs into hidden layer l (bits[layers]: into the last layer)
  std::vector<std::vector<word_t>> bits(layers + 1);
  bits[0].resize(m * words_for(n1));
  for (std::size_t l = 0; l < layers; ++l) bits[l + 1].resize(m * words_for(hidden_[l].n));
  std::vector<float> y(m * n1);
  std::vector<std::int32_t> dot(m * last_.n);
  double total_ns = first_ns, largest_ns = first_ns;
  for (const auto& h : hidden_) {
    const double ns = driver::xnor_gemm_ns(m, h.n, words_for(h.k));
    total_ns += ns;
    largest_ns = std::max(largest_ns, ns);
  }
  // Layers that split on their own run one after another, each driver splitting its own (the job itself
  // is not planned: an infinite floor); else one job, split if the cost model says so. (Then every driver call in
  // a chunk runs inline: a driver that split there would find the pool busy with this job.)
  const double floor_ns = largest_ns < kMinParallelNs ? kMinPhasedNs : std::numeric_limits<double>::infinity();
  std::vector<std::size_t> per_thread(layers + 2, kHiddenChunksPerThread);
  per_thread.front() = kFirstChunksPerThread;
  per_thread.back() = 0;  // the last layer (the logits, a few outputs): one chunk
  std::atomic<bool> nan{false};
  run_phases(key, total_ns, floor_ns, per_thread, [&](std::size_t phase, std::size_t c, std::size_t chunks) {
    if (phase == 0) {  // first layer, then pack_signs((y - t) * s) of its columns
      std::size_t j0, j1;
      chunk_columns(n1, chunks, c, j0, j1);
      if (j0 == j1) return;
      first(j0, j1, y.data());
      for (std::size_t i = 0; i < m; ++i) {
        float* row = y.data() + i * n1;
        for (std::size_t j = j0; j < j1; ++j) {
          row[j] -= thresholds[j];  // two rounded float32 operations, as numpy's y -= t; y *= s
          row[j] *= first_.s[j];
        }
      }
      const bool whole = j0 == 0 && j1 == n1;  // rows contiguous: one call (split by pack_signs' driver)
      for (std::size_t i = 0; i < (whole ? 1 : m); ++i)
        if (driver::pack_signs(t, y.data() + i * n1 + j0, DType::f32, whole ? m : 1, j1 - j0, 1,
                               bits[0].data() + i * words_for(n1) + j0 / kWordBits))
          nan = true;
    } else if (phase <= layers) {  // hidden layer: the fused XNOR GEMM + threshold, packed signs in and out
      const HiddenLayer& h = hidden_[phase - 1];
      std::size_t j0, j1;
      chunk_columns(h.n, chunks, c, j0, j1);
      if (j0 == j1) return;
      const std::size_t ldb = words_for(h.k), ldc = words_for(h.n);
      driver::xnor_gemm_threshold(t, bits[phase - 1].data(), ldb, h.w + j0 * ldb, ldb,
                                  bits[phase].data() + j0 / kWordBits, ldc, m, j1 - j0, std::int64_t(h.k),
                                  h.thresholds.data() + j0, h.flips.data() + j0 / kWordBits);
    } else {  // last layer: int32 dot products, then numpy's int32 * float32 + float32 (in float64) -> float32
      driver::xnor_gemm(t, bits[layers].data(), words_for(last_.k), last_.w, words_for(last_.k), dot.data(), last_.n,
                        m, last_.n, std::int64_t(last_.k));
      for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < last_.n; ++j) {
          const double v = double(dot[i * last_.n + j]) * double(last_.scale[j]);
          out[i * last_.n + j] = float(v + double(last_.shift[j]));
        }
    }
  });
  return !nan;
}

}  // namespace pbn
