// bitplane_combine (bitplane_combine_body.h) compiled for the baseline: the reference.
#include "bitplane_combine_body.h"

namespace pbn {
PBN_BITPLANE_COMBINE_VARIANT(bitplane_combine__scalar)
}  // namespace pbn
