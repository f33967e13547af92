// The sign activation and its straight-through gradient (ste_sign_body.h) compiled for the baseline (the reference).
#include "ste_sign_body.h"

namespace pbn {
PBN_STE_SIGN_VARIANTS(scalar)
}  // namespace pbn
