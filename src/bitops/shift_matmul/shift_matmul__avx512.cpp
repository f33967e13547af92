#include "../kernels.h"
namespace pbn {
void shift_matmul__avx512(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1) { shift_matmul__scalar(codes, ldc, g, ldg, out, ldo, m, k0, k1, n0, n1); }
}
