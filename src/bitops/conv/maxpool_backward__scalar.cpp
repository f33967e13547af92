// The float max-pooling gradient (maxpool_backward_body.h) compiled for the baseline (the reference).
#include "maxpool_backward_body.h"

namespace pbn {
PBN_MAXPOOL_BACKWARD_VARIANT(maxpool_backward__scalar)
}  // namespace pbn
