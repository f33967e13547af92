// Float max-pooling (maxpool_forward_body.h) compiled for the baseline (the reference).
#include "maxpool_forward_body.h"

namespace pbn {
PBN_MAXPOOL_FORWARD_VARIANT(maxpool_forward__scalar)
}  // namespace pbn
