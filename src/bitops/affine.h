// The float epilogue a product applies to its output chunk by chunk, while each chunk is in
// cache: out * scale (when scale != 1), then + bias[j] (when bias), two roundings and no FMA,
// so the bits are numpy's `y * np.float32(scale)` then `y += bias`. xnor_gemm's int32 dot
// products go through it (op int32_affine), as do the float weight matmuls' outputs.
#pragma once

namespace pbn {
namespace driver {

struct Affine {
  float scale = 1.0f;
  const float* bias = nullptr;  // one per output column, or null
  bool active() const { return scale != 1.0f || bias; }
};

}  // namespace driver
}  // namespace pbn
