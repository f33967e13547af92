// The registry of kernel variants (variants.inc) and run-time dispatch.
//
// The ISA is chosen once, at import (init_dispatch), from CPUID/XGETBV and
// PYBITNET_ISA. A driver then asks for the variant of its op for the call's
// target and shape (select): the first variants.inc row, from the target ISA
// down to scalar, whose shape condition holds. No per-call feature checks; a
// few compares per call. Every call is counted per variant (call_counts), and
// the same table answers what runs for which shape (shape_classes), so
// pybitnet.active_kernels() names the code, not just the ISA.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kernels.h"

namespace pbn {

enum class OpId : int {
#define PBN_OP(op) op,
#include "ops.inc"
#undef PBN_OP
  count_
};
constexpr int kNumOps = int(OpId::count_);
// The cost model's keys (threads.h keeps its measurements per key): each op's OpId, then one per driver
// that composes several ops into one split, so no two drivers mix their timings.
enum ComposedSplitKey : int {
  kBinaryConvKey = kNumOps,
  kWeightGradUpdateKey,
  kConvInputGradKey,
  kPackedMlpKey,            // PackedMlp's batch-1 job from float32 inputs,
  kPackedMlpPixelsKey,      // from uint8 pixels by tables,
  kPackedMlpBitPlanesKey,   // by bit planes (each its own wall time per estimated ns)
  kNumSplitKeys
};
const char* op_name(OpId op);
std::vector<std::string> op_names();

// The size of a call as the shape conditions see it (ops.inc says what m, n
// and k are for each op).
struct Shape {
  std::size_t m = 0, n = 0, k = 0;
};

struct Variant {
  OpId op;
  Isa isa;
  const char* name;  // pbn::<name>
  const char* when;  // the shape condition as written in variants.inc
  bool (*applies)(const Shape&);
  void (*fn)();  // pbn::<name> as a generic function pointer (kernel() casts it back)
};

// The rows of variants.inc that this build has, in order.
const std::vector<Variant>& variants();
int variant_index(const std::string& name);  // -1 if there is no such variant

// What a call runs on: an ISA, or (tests, benchmarks) one variant forced for
// its op (the other ops of a composite call run on that variant's ISA).
struct Target {
  Isa isa = Isa::scalar;
  int forced = -1;  // index into variants(), or -1
};

// Picks the active ISA: PYBITNET_ISA if set (throws if unknown or unsupported),
// else the best the CPU supports. Called once from the module's init.
void init_dispatch();
Isa active_isa();
std::vector<Isa> available_isas();  // best first, always ends in scalar

// "" -> the active ISA; an ISA name -> that ISA; a variant name -> that variant
// (throws std::invalid_argument if unknown or not supported by this CPU). Lets
// tests and benchmarks run every variant in one process.
Target resolve_target(const std::string& requested);

// The variant of `op` that runs for `target` and `shape`: peek only looks,
// select also counts the call.
const Variant& peek(OpId op, const Target& target, const Shape& shape);
const Variant& select(OpId op, const Target& target, const Shape& shape);

// Does `op` have a row of its own at exactly `isa` (not one inherited from a
// lower ISA)? For drivers that compose ops (conv/driver.cpp).
bool own_variant(OpId op, Isa isa);

// The shape classes of `op` at `isa`: (condition, variant) in the order
// select() tries them, ending with the first unconditional row.
std::vector<std::pair<std::string, const Variant*>> shape_classes(OpId op, Isa isa);

// Calls per variant since import (index as variants()).
std::vector<unsigned long long> call_counts();

// The kernel itself, typed: kernel<OpId::xnor_gemm>(target, shape) is an xnor_gemm_fn*.
template <OpId Op>
struct OpFn;
#define PBN_OP(op)              \
  template <>                   \
  struct OpFn<OpId::op> {       \
    using type = op##_fn;       \
  };
#include "ops.inc"
#undef PBN_OP

template <OpId Op>
typename OpFn<Op>::type* kernel(const Target& target, const Shape& shape) {
  return reinterpret_cast<typename OpFn<Op>::type*>(select(Op, target, shape).fn);
}

}  // namespace pbn
