// Run-time dispatch. The ISA is chosen once, at import (init_dispatch), from
// CPUID/XGETBV and PYBITNET_ISA; kernels are then called through per-op
// tables indexed by ISA, with no per-call feature checks.
#pragma once

#include <string>
#include <vector>

#include "kernels.h"

namespace pbn {

// Picks the active ISA: PYBITNET_ISA if set (throws if unknown or unsupported),
// else the best the CPU supports. Called once from the module's init.
void init_dispatch();
Isa active_isa();
std::vector<Isa> available_isas();

// "" -> the active ISA; a name -> that ISA (throws std::invalid_argument if
// unknown or not supported by this CPU). Lets tests and benchmarks run every
// variant in one process.
Isa resolve_isa(const std::string& requested);

std::vector<std::string> op_names();

// Calls per op and ISA since import, so tests can check which variant ran.
enum class OpId : int {
#define PBN_OP(op) op,
#include "ops.inc"
#undef PBN_OP
  count_
};
void note_call(OpId op, Isa isa);
std::vector<std::vector<unsigned long long>> call_counts();  // [op][isa]

#if defined(__x86_64__) || defined(_M_X64)
#define PBN_OP(op)                                                            \
  inline op##_fn* op##_kernel(Isa isa) {                                      \
    static op##_fn* const table[kNumIsas] = {&op##__scalar, &op##__avx2, &op##__avx512}; \
    note_call(OpId::op, isa);                                                 \
    return table[int(isa)];                                                   \
  }
#else
#define PBN_OP(op)                    \
  inline op##_fn* op##_kernel(Isa isa) { \
    note_call(OpId::op, isa);           \
    return &op##__scalar;               \
  }
#endif
#include "ops.inc"
#undef PBN_OP

}  // namespace pbn
