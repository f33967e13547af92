// Inverted dropout (dropout_body.h) compiled for avx512.
#include "dropout_body.h"

namespace pbn {
PBN_DROPOUT_VARIANT(dropout__avx512)
}  // namespace pbn
