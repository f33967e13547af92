// col2im_add (col2im_add_body.h) compiled for avx2.
#include "col2im_add_body.h"

namespace pbn {
PBN_COL2IM_ADD_VARIANT(col2im_add__avx2)
}  // namespace pbn
