// The one tail idiom of the SIMD kernels: a run-time count (the last rows or
// columns of a tile, the registers a filter block needs) turned into a
// compile-time one, so the tail runs the same fully unrolled code as the body:
//
//   with_count<kNR - 1>(n - j, [&](auto nr) { tile<MR, decltype(nr)::value>(...); });
//
// calls fn(Count<c>{}) for the c == count in [1, Max] (nothing for 0). Internal
// linkage, no std:: templates: safe in any ISA's file (see bits.h).
#pragma once

#include "bits.h"

namespace pbn {
namespace {

template <int N>
struct Count {
  static constexpr int value = N;
};

template <int Max, class Fn>
PBN_INLINE void with_count(std::size_t count, const Fn& fn) {
  if constexpr (Max > 0) {
    if (count == std::size_t(Max)) return fn(Count<Max>{});
    with_count<Max - 1>(count, fn);
  }
}

}  // namespace
}  // namespace pbn
