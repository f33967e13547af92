// xnor_gemm_masked on AVX2: xnor_gemm's micro-kernel and blocked driver over
// the masked A operand (../xnor_gemm/a_rows.h) with the int32 epilogue.
#include <immintrin.h>

#include "../kernels.h"
#include "../scratch.h"

namespace pbn {
namespace {

#include "../xnor_gemm/tile_avx2.h"
#include "../xnor_gemm/int32_sink_avx2.h"
#include "../xnor_gemm/blocked_driver.h"

}  // namespace

void xnor_gemm_masked__avx2(const word_t* a, std::size_t lda, const word_t* mask, std::size_t ldm,
                             const word_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, std::size_t m,
                             std::size_t n, std::size_t words) {
  AlignedScratch kept(m);
  const MaskedRows rows{a, lda, mask, ldm, row_popcounts(mask, ldm, m, words, kept.data)};
  blocked_xnor_gemm(rows, b, ldb, Int32Sink{c, ldc}, m, n, words, 0);
}

}  // namespace pbn
