// The float max-pooling gradient (maxpool_backward_body.h) compiled for avx2.
#include "maxpool_backward_body.h"

namespace pbn {
PBN_MAXPOOL_BACKWARD_VARIANT(maxpool_backward__avx2)
}  // namespace pbn
