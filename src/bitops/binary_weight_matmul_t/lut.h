// Table-lookup variant of binary_weight_matmul_t (AVX-512): see
// binary_weight_matmul_t_lut__avx512.cpp. Same signature and result as the op.
#pragma once

#include "../kernels.h"

namespace pbn {
binary_weight_matmul_t_fn binary_weight_matmul_t_lut__avx512;
}
