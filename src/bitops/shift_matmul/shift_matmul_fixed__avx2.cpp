#include "../kernels.h"
namespace pbn {
void shift_matmul_fixed__avx2(const std::int8_t* codes, std::size_t ldc, const std::int32_t* q, std::size_t ldq, float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1, int frac_bits) { shift_matmul_fixed__scalar(codes, ldc, q, ldq, out, ldo, m, k0, k1, n0, n1, frac_bits); }
}
