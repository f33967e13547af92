// Inverted dropout (dropout_body.h) compiled for scalar.
#include "dropout_body.h"

namespace pbn {
PBN_DROPOUT_VARIANT(dropout__scalar)
}  // namespace pbn
