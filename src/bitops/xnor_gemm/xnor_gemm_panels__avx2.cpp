// The column-panel variants of the xnor_gemm family on AVX2 (panels_avx2.h's
// tile in panel_loops.h's loops): the fused layer on B already in panels (the
// conv driver), and, for many rows of A, xnor_gemm and xnor_gemm_threshold that
// copy B into panels first (one word at a time: the copy is small beside an
// AVX2 product), with no horizontal reduction and no scalar K tail.
#include "../kernels.h"
#include "panels_avx2.h"

namespace pbn {
PBN_PANEL_VARIANTS(avx2, Avx2PanelTile, Avx2PanelInt32Sink, Avx2PanelBitsSink, copy_block8)
}  // namespace pbn
