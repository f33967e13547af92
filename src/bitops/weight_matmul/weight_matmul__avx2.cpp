// The weight-matmul family on AVX2: the masked-add kernels (masked_add.h) with
// 8-lane masks looked up from bytes of the packed bits ("add x where the bit is
// set" = and + add). MR x NR = 2 x 4 accumulators everywhere (8 of the 16 ymm
// registers; 2 x 6 spilled): forward, 2 rows of x by 4 weight rows;
// transposed, 2 rows of g by 4 chunks of 8 columns of K. Short rows (k <= 64):
// outputs in the lanes instead (narrow.h).
#include "../kernels.h"
#include "../simd/avx2.h"
#include "masked_add.h"
#include "narrow.h"

namespace pbn {
PBN_NARROW_FORWARD_VARIANT(binary_weight_matmul_narrow__avx2, Avx2, binary_weight_matmul__avx2)
PBN_BINARY_FORWARD_VARIANT(binary_weight_matmul__avx2, Avx2, 2, 4)
PBN_BINARY_TRANSPOSED_VARIANT(binary_weight_matmul_t__avx2, Avx2, 2, 4, kAllRows)
PBN_TERNARY_FORWARD_VARIANT(ternary_weight_matmul__avx2, Avx2, 2, 4)
PBN_TERNARY_TRANSPOSED_VARIANT(ternary_weight_matmul_t__avx2, Avx2, 2, 4, kAllRows)
}  // namespace pbn
