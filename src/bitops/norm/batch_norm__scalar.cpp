// The training batch norm (batch_norm_body.h) compiled for the baseline (the reference).
#include "batch_norm_body.h"

namespace pbn {
PBN_BATCH_NORM_VARIANTS(scalar)
}  // namespace pbn
