#include "../kernels.h"
namespace pbn {
bool dequantize_pow2__avx512(const std::int8_t* codes, float* out, std::size_t i0, std::size_t i1) { return dequantize_pow2__scalar(codes, out, i0, i1); }
}
