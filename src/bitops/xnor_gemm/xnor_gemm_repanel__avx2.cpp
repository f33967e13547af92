// xnor_gemm and the fused binary layer on AVX2 for many rows of A: B's rows
// copied into column panels (repanel.h, one word at a time: the copy is small
// beside an AVX2 product) and the panel kernel of panels_avx2.h, with no
// horizontal reduction and no scalar K tail.
#include "../kernels.h"
#include "panels_avx2.h"
#include "repanel.h"

namespace pbn {

void xnor_gemm_repanel__avx2(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
                             std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k) {
  const word_t* bp = to_panels(b, ldb, n, words, copy_block8);
  if (!bp) return xnor_gemm__avx2(a, lda, b, ldb, c, ldc, m, n, words, k);  // no memory for panels
  panels_gemm<Avx2PanelTile>(a, lda, bp, m, n, words, k, Avx2PanelInt32Sink{c, ldc, n});
}

void xnor_gemm_threshold_repanel__avx2(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,
                                       word_t* c, std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,
                                       std::int64_t k, const std::int32_t* thresholds, const word_t* flips) {
  const word_t* bp = to_panels(b, ldb, n, words, copy_block8);
  if (!bp) return xnor_gemm_threshold__avx2(a, lda, b, ldb, c, ldc, m, n, words, k, thresholds, flips);
  xnor_gemm_threshold_panels__avx2(a, lda, bp, c, ldc, m, n, words, k, thresholds, flips);
}

}  // namespace pbn
