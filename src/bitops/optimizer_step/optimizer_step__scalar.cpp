// The fused optimizer update (optimizer_step_body.h) compiled for scalar.
#include "optimizer_step_body.h"

namespace pbn {
PBN_OPTIMIZER_STEP_VARIANT(optimizer_step__scalar)
}  // namespace pbn
