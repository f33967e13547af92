// The training batch norm (batch_norm_body.h) compiled for avx2.
#include "batch_norm_body.h"

namespace pbn {
PBN_BATCH_NORM_VARIANTS(avx2)
}  // namespace pbn
