// The xnor_gemm family on AVX2: the pshufb-popcount tile in the blocked loop nest.
#include "../kernels.h"
#include "tile_avx2.h"
#include "entries.h"

namespace pbn {
PBN_XNOR_GEMM_VARIANTS(avx2, Avx2Tile)
}  // namespace pbn
