// Float max-pooling (maxpool_forward_body.h) compiled for avx512.
#include "maxpool_forward_body.h"

namespace pbn {
PBN_MAXPOOL_FORWARD_VARIANT(maxpool_forward__avx512)
}  // namespace pbn
