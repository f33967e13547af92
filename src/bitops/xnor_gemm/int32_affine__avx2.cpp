// int32_affine on AVX2 (the body: int32_affine.h).
#include "../simd/avx2.h"
#include "int32_affine.h"

namespace pbn {

void int32_affine__avx2(std::int32_t* c, std::size_t ldc, std::size_t rows, std::size_t cols, float scale,
                        const float* bias) {
  int32_affine_simd<Avx2>(c, ldc, rows, cols, scale, bias);
}

}  // namespace pbn
