// xnor_gemm on AVX-512: the micro-kernel (tile_avx512.h) and the cache-blocked
// driver (blocked_driver.h) with an int32 store as the epilogue.
#include <immintrin.h>

#include "../kernels.h"
#include "../scratch.h"

namespace pbn {
namespace {

#include "tile_avx512.h"
#include "int32_sink_avx512.h"
#include "blocked_driver.h"

}  // namespace

void xnor_gemm__avx512(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
                       std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k) {
  blocked_xnor_gemm(a, lda, b, ldb, Int32Sink{c, ldc}, m, n, words, k);
}

}  // namespace pbn
