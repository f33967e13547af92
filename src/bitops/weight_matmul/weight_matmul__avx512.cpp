// The weight-matmul family on AVX-512: the masked-add kernels (masked_add.h)
// with the packed bits loaded straight into mask registers (16 lanes each) and
// merge-masked adds. The binary forward kernel and the binary transposed one
// for 16+ rows are the subset-sum table kernels (*_lut__avx512.cpp).
//
// Tiles: forward ternary 4 x 4 (4 rows of x by 4 weight rows); transposed
// binary 4 x 6 (4 rows of g by 96 columns of K: 24 accumulators; per weight row
// 4 broadcasts + 6 mask loads feed 24 adds), its weight rows in blocks of 256
// so their bits stay in L1 across tiles (256 rows x 64 bytes = 16 KiB, instead
// of streaming all of W from L2 per tile); transposed ternary 4 x 4. Short rows
// (k <= 64): outputs in the lanes instead (narrow.h).
#include "../kernels.h"
#include "../simd/avx512.h"
#include "masked_add.h"
#include "narrow.h"

namespace pbn {
PBN_NARROW_FORWARD_VARIANT(binary_weight_matmul_narrow__avx512, Avx512, binary_weight_matmul_lut__avx512)
PBN_BINARY_TRANSPOSED_VARIANT(binary_weight_matmul_t__avx512, Avx512, 4, 6, 256)
PBN_TERNARY_FORWARD_VARIANT(ternary_weight_matmul__avx512, Avx512, 4, 4)
PBN_TERNARY_TRANSPOSED_VARIANT(ternary_weight_matmul_t__avx512, Avx512, 4, 4, kAllRows)
}  // namespace pbn
