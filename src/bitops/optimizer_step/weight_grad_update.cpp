#include "weight_grad_update.h"

#include <atomic>

#include "../scratch.h"
#include "../threads.h"
#include "driver.h"

namespace pbn {
namespace driver {

namespace {
// Gradient bytes per slice: the slice, written by the product and read by the update, stays in L2.
constexpr std::size_t kSliceBytes = std::size_t(1) << 20;
// Rows per slice a multiple of this: the transposed table kernel's 8-row passes, whole (the sums do not
// depend on the slicing), and at least 16 rows, where the table variants apply.
constexpr std::size_t kSliceAlign = 16;

thread_local ThreadBuffer t_slice;  // the slice of dW, per thread (scratch.h)
}  // namespace

bool weight_grad_update(const Target& t, const float* gt, std::size_t ldg, const WeightBits& x, std::size_t k,
                        float* w, float* m, float* v, std::size_t f, const OptimStep& s, word_t* signs) {
  if (f == 0 || k == 0) return false;
  // The variants a whole-matrix call would take (the shape selects them), for every slice.
  const Shape shape{f, x.n, k};
  binary_weight_matmul_t_fn* binary = x.nz ? nullptr : pbn::kernel<OpId::binary_weight_matmul_t>(t, shape);
  ternary_weight_matmul_t_fn* ternary = x.nz ? pbn::kernel<OpId::ternary_weight_matmul_t>(t, shape) : nullptr;
  optimizer_step_fn* update = pbn::kernel<OpId::optimizer_step>(t, {0, 0, f * k});
  pack_signs_fn* pack = signs ? pbn::kernel<OpId::pack_signs>(t, {f, 1, k}) : nullptr;
  const std::size_t words = words_for(k);
  std::size_t rows = std::max(kSliceAlign, kSliceBytes / (4 * k) / kSliceAlign * kSliceAlign);
  const std::size_t slices = std::max<std::size_t>(1, f / rows);  // the last slice takes the remainder
  rows = f / slices / kSliceAlign * kSliceAlign;
  if (rows == 0) rows = f;  // f < 16: one slice
  const double ns = weight_matmul_t_ns(f, x, k) + optimizer_step_ns(f * k);  // the product, then the update
  std::atomic<bool> nan{false};
  split_1d(kWeightGradUpdateKey, slices, ns, 1, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      const std::size_t r0 = i * rows, r1 = i + 1 == slices ? f : r0 + rows, n_rows = r1 - r0;
      float* dw = static_cast<float*>(t_slice.get(n_rows * k * sizeof(float)));
      if (binary)
        binary(gt + r0 * ldg, ldg, x.s, x.lds, dw, k, n_rows, x.n, k);
      else
        ternary(gt + r0 * ldg, ldg, x.s, x.lds, x.nz, x.ldnz, dw, k, n_rows, x.n, k);
      const std::size_t e0 = r0 * k;
      if (update(w + e0, dw, m ? m + e0 : nullptr, v ? v + e0 : nullptr, 0, n_rows * k, s)) nan = true;
      if (pack && pack(w + e0, DType::f32, n_rows, k, 1, signs + r0 * words, 0, n_rows, 0, 1)) nan = true;
    }
  });
  return nan;
}

}  // namespace driver
}  // namespace pbn
