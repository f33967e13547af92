// The shift-add weight gradient on AVX2 (float and fixed point): the table
// kernel of shift_table.h with 8-lane vectors, 32-column tiles and 2 output
// rows per step (8 accumulators of the 16 registers).
#include "../simd/avx2.h"
#include "shift_table.h"

namespace pbn {
PBN_SHIFT_MATMUL_FLOAT_VARIANT(avx2, Avx2, 2)
PBN_SHIFT_MATMUL_FIXED_VARIANT(avx2, Avx2, 2)
}  // namespace pbn
