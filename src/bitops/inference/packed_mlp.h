// A packed BNN MLP run in one native call (pybind-free; bind_packed_mlp.cpp
// checks the arrays once, when the model is built). What a Python forward pass
// does in ~10 numpy operations and 5 kernel calls (~115 us of interpreter and
// numpy work when the caches are cold, more than the weights' own streaming),
// this does in one: the same drivers, the same float operations in the same
// order, so the logits are bit for bit the Python path's
// (pybitnet/inference/layers.py):
//   first layer  y = x @ sign(W0).T (weight_matmul), bits = pack_signs((y - t) * s)
//                or, for uint8 pixels (with pixel thresholds, PixelInput in layers.py), the exact
//                int32 p . w by subset-sum tables (uint8_weight_matmul) or by bit planes
//                (pack_bit_planes + bitplane_matmul), then bits = pack_signs((float(p . w) - t_pix) * s)
//   hidden       bits = xnor_gemm_threshold(bits, W, k, thresholds, flips)
//   last         logits = float32(double(xnor_gemm(bits, W, k)) * scale + shift)
// A small batch, every layer below the split bound (batch 1), runs as one job of phases over the
// threads (threads.h run_phases: one wake-up for the net, not one per layer).
// The weights are copied into one 2 MiB-aligned block advised for huge pages
// (see pybitnet/_hugepages.py for why), so the object is immutable and owns
// everything it reads: thread-safe, and the caller's arrays may change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "../registry.h"

namespace pbn {

class PackedMlp {
 public:
  struct FirstLayer {  // real inputs -> packed signs
    const word_t* w;    // n rows of k bits
    std::size_t n, k;
    std::vector<float> t, s;
  };
  struct HiddenLayer {  // packed signs -> packed signs
    const word_t* w;
    std::size_t n, k;
    std::vector<std::int32_t> thresholds;
    std::vector<word_t> flips;  // words_for(n)
  };
  struct LastLayer {  // packed signs -> float32 logits
    const word_t* w;
    std::size_t n, k;
    std::vector<float> scale, shift;
  };

  // The layers' `w` point at the caller's rows (zero padding, words_for(k) per
  // row, contiguous); they are copied here. `pixel_t` (empty, or first.n float32
  // thresholds on the exact p . w) enables logits_pixels(); the first layer's
  // 16-bit panels and row sums are derived here from its weights
  // (weight_matmul/pixel_panels.h, as pybitnet.first_layer's).
  PackedMlp(FirstLayer first, std::vector<HiddenLayer> hidden, LastLayer last, std::vector<float> pixel_t = {});
  ~PackedMlp();
  PackedMlp(const PackedMlp&) = delete;
  PackedMlp& operator=(const PackedMlp&) = delete;

  std::size_t in_features() const { return first_.k; }
  std::size_t out_features() const { return last_.n; }
  std::size_t weight_bytes() const { return bytes_; }
  bool on_huge_pages() const { return huge_; }

  // out (m x out_features, contiguous) from x (m x in_features, row stride ldx).
  // Returns false (out unspecified) if a first-layer value (y - t) * s is NaN,
  // where pack_signs would refuse it.
  bool logits(const Target& t, const float* x, std::size_t ldx, std::size_t m, float* out) const;
  // The same from uint8 pixel rows p (m x in_features, row stride ldp; C-contiguous when
  // `bitplanes`), when built with pixel thresholds. Returns false if a first-layer
  // value is NaN (an infinite threshold scale times 0).
  bool has_pixels() const { return !pixel_t_.empty(); }
  // The first layer's 16-bit panels (pixel_panel_elements(n, k), weight_matmul/pixel_panels.h)
  // and row sums (n), when has_pixels(): what the Python layer path reads too.
  const std::uint16_t* pixel_panels() const { return panels_.get(); }
  const std::int32_t* weight_row_sums() const { return w_sums_.data(); }
  std::size_t first_rows() const { return first_.n; }
  bool logits_pixels(const Target& t, const std::uint8_t* p, std::size_t ldp, std::size_t m, bool bitplanes,
                     float* out) const;

 private:
  FirstLayer first_;
  std::vector<HiddenLayer> hidden_;
  LastLayer last_;
  std::vector<float> pixel_t_;
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  // uint8_weight_matmul's 16-bit panels of the first layer, 64-byte aligned as numpy's (whole-line loads)
  std::unique_ptr<std::uint16_t[], Free> panels_;
  std::vector<std::int32_t> w_sums_;   // its row sums, for the bit planes
  // The first layer's bits as the AVX-512 table kernel's dword panels (weight_matmul/dword_panels.h),
  // on a CPU that has AVX-512: the float32 path's lookups read them instead of transposing the bits
  // on every call
  std::unique_ptr<std::uint32_t[], Free> dword_panels_;
  // The net from the first layer's sums: first(j0, j1, y) writes columns [j0, j1) of the m x n sums y
  // (`first_ns` its estimated time), then pack_signs((y - thresholds) * s) and the rest of the net; the
  // layers in turn, or, when each is too small to split, one job of phases (threads.h run_phases)
  // whose timings the cost model keeps under `key`.
  template <class First>
  bool forward(const Target& t, std::size_t m, int key, double first_ns, const std::vector<float>& thresholds,
               float* out, const First& first) const;
  void* block_ = nullptr;
  std::size_t bytes_ = 0;
  bool huge_ = false;
};

}  // namespace pbn
