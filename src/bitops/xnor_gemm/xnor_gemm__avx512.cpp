// The xnor_gemm family on AVX-512 VPOPCNTDQ: the vpopcntq tile in the blocked loop nest.
#include "../kernels.h"
#include "tile_avx512.h"
#include "entries.h"

namespace pbn {
PBN_XNOR_GEMM_VARIANTS(avx512, Avx512Tile)
}  // namespace pbn
