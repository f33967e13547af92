// Instruction-set levels and CPU feature detection.
#pragma once

#include <string>
#include <vector>

namespace pbn {

// Ordered: a higher level may use everything a lower one does.
enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };
constexpr int kNumIsas = 3;

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

// Can this CPU (after masking) run code compiled for `isa`?
bool isa_supported(Isa isa);
// The features `isa` needs that are missing, comma-separated ("" if none).
std::string isa_missing_features(Isa isa);
// Was this ISA compiled into the extension (x86-64 builds compile all three)?
bool isa_built(Isa isa);

}  // namespace pbn
