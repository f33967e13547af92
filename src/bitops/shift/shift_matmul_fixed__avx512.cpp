// The fixed-point shift-add weight gradient on AVX-512: the table kernel of
// shift_table.h with 16-lane vectors, 64-column tiles and 4 output rows per
// step (16 independent add chains hide the add latency). The float variant is
// shift_matmul_expadd__avx512.cpp.
#include "../simd/avx512.h"
#include "shift_table.h"

namespace pbn {
PBN_SHIFT_MATMUL_FIXED_VARIANT(avx512, Avx512, 4)
}  // namespace pbn
