// The training batch norm (batch_norm_body.h) compiled for avx512.
#include "batch_norm_body.h"

namespace pbn {
PBN_BATCH_NORM_VARIANTS(avx512)
}  // namespace pbn
