// bitplane_combine (bitplane_combine_body.h) compiled for avx512.
#include "bitplane_combine_body.h"

namespace pbn {
PBN_BITPLANE_COMBINE_VARIANT(bitplane_combine__avx512)
}  // namespace pbn
