// The fused optimizer update (optimizer_step_body.h), built with this file's ISA flags.
#include <cstdint>
#include <cstring>

#include "../kernels.h"

namespace pbn {
namespace {
#include "optimizer_step_body.h"
}  // namespace

void optimizer_step__scalar(float* w, const float* g, float* m, float* v, std::size_t i0, std::size_t i1,
                          const OptimStep& s) {
  optimizer_step_body(w, g, m, v, i0, i1, s);
}

}  // namespace pbn
