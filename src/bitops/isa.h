// Instruction-set levels (isa_table.inc) and CPU feature detection.
#pragma once

#include <string>
#include <vector>

namespace pbn {

// Ordered as isa_table.inc: a higher level may use everything a lower one does.
enum class Isa : int {
#define PBN_ISA(name, features, flags) name,
#include "isa_table.inc"
#undef PBN_ISA
};
constexpr int kNumIsas = 0
#define PBN_ISA(name, features, flags) +1
#include "isa_table.inc"
#undef PBN_ISA
    ;

const char* isa_name(Isa isa);
bool parse_isa(const std::string& name, Isa* out);

struct CpuFeature {
  const char* name;
  bool present;
};

// What CPUID and XGETBV report (each feature already ANDed with OS support for
// the register state it needs). Detected once; PYBITNET_DISABLE_CPU_FEATURES
// (comma-separated names) masks features out, to test fallbacks on a big CPU.
const std::vector<CpuFeature>& cpu_features();
bool cpu_has(const char* feature);

// The CPU features `isa` needs (its isa_table.inc row).
std::vector<std::string> isa_required_features(Isa isa);
// Can this CPU (after masking) run code compiled for `isa`?
bool isa_supported(Isa isa);
// The features `isa` needs that are missing, comma-separated ("" if none).
std::string isa_missing_features(Isa isa);
// Was this ISA compiled into the extension? Levels with compile flags are x86
// levels: built on x86-64 only (setup.py skips their files elsewhere).
bool isa_built(Isa isa);

}  // namespace pbn
