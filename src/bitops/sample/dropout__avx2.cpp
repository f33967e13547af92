// Inverted dropout (dropout_body.h) compiled for avx2.
#include "dropout_body.h"

namespace pbn {
PBN_DROPOUT_VARIANT(dropout__avx2)
}  // namespace pbn
