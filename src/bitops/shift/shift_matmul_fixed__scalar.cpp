// Scalar reference of the fixed-point shift-add weight gradient: integer
// shifts of the int32 fixed-point g, summed exactly in int32, scaled back.
#include "../kernels.h"
#include "pow2_code.h"

namespace pbn {

void shift_matmul_fixed__scalar(const std::int8_t* codes, std::size_t ldc, const std::int32_t* q, std::size_t ldq,
                                float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1,
                                std::size_t n0, std::size_t n1, int frac_bits) {
  for (std::size_t k = k0; k < k1; ++k) {
    for (std::size_t n = n0; n < n1; ++n) {
      std::uint32_t s = 0;  // unsigned: wrap-around is defined (the caller rules out overflow)
      for (std::size_t i = 0; i < m; ++i) {
        const std::int8_t c = codes[i * ldc + k];
        if (c == 0) continue;
        const std::uint32_t t = std::uint32_t(shift_fixed(q[i * ldq + n], pow2_exponent(c)));
        s = c < 0 ? s - t : s + t;
      }
      out[k * ldo + n] = bits_f32(ldexp_bits(f32_bits(float(std::int32_t(s))), -frac_bits));
    }
  }
}

}  // namespace pbn
