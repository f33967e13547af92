#include "../kernels.h"
namespace pbn {
bool quantize_pow2__avx512(const float* x, std::int8_t* codes, std::size_t i0, std::size_t i1, bool stochastic, int lo, int hi, std::uint64_t seed) { return quantize_pow2__scalar(x, codes, i0, i1, stochastic, lo, hi, seed); }
}
