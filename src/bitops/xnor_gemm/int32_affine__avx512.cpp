// int32_affine on AVX-512 (the body: int32_affine.h).
#include "../simd/avx512.h"
#include "int32_affine.h"

namespace pbn {

void int32_affine__avx512(std::int32_t* c, std::size_t ldc, std::size_t rows, std::size_t cols, float scale,
                          const float* bias) {
  int32_affine_simd<Avx512>(c, ldc, rows, cols, scale, bias);
}

}  // namespace pbn
