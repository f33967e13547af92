// The fused optimizer update (optimizer_step_body.h) compiled for avx512.
#include "optimizer_step_body.h"

namespace pbn {
PBN_OPTIMIZER_STEP_VARIANT(optimizer_step__avx512)
}  // namespace pbn
