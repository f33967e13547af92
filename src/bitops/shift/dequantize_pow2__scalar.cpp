// Scalar reference of the dequantizer: code -> float32 bits.
#include "../kernels.h"
#include "pow2_code.h"

namespace pbn {

bool dequantize_pow2__scalar(const std::int8_t* codes, float* out, std::size_t i0, std::size_t i1) {
  bool bad = false;
  for (std::size_t i = i0; i < i1; ++i) {
    bad |= codes[i] == kPow2Invalid;
    out[i] = bits_f32(pow2_decode_bits(codes[i]));
  }
  return bad;
}

}  // namespace pbn
