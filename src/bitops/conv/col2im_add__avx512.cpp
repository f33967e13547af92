// col2im_add (col2im_add_body.h) compiled for avx512.
#include "col2im_add_body.h"

namespace pbn {
PBN_COL2IM_ADD_VARIANT(col2im_add__avx512)
}  // namespace pbn
