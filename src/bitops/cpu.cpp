// CPU detection: CPUID says what the core implements, XGETBV says whether the
// OS saves the wider registers on context switch. AVX2 needs YMM state
// (XCR0 bits 1,2) and AVX-512 also needs opmask and ZMM state (bits 5,6,7);
// a CPU with AVX-512 under an OS that does not enable it must not use it.
#include "isa.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>

#if defined(__x86_64__) || defined(_M_X64)
#define PBN_X86 1
#include <cpuid.h>
#endif

namespace pbn {

namespace {

struct Regs {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

#if PBN_X86
Regs cpuid(unsigned leaf, unsigned subleaf) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

std::uint64_t xgetbv0() {
  unsigned lo, hi;
  // Encoded as bytes so the baseline build needs no -mxsave.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t(hi) << 32) | lo;
}
#endif

bool bit(unsigned v, int i) { return (v >> i) & 1u; }

std::vector<CpuFeature> detect() {
  std::vector<CpuFeature> f;
#if PBN_X86
  const Regs l0 = cpuid(0, 0);
  const Regs l1 = cpuid(1, 0);
  const Regs l7 = l0.eax >= 7 ? cpuid(7, 0) : Regs{};
  const bool osxsave = bit(l1.ecx, 27);
  const std::uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;
  const bool os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;
  f = {
      {"sse2", bit(l1.edx, 26)},
      {"sse4_2", bit(l1.ecx, 20)},
      {"popcnt", bit(l1.ecx, 23)},
      {"os_ymm", os_ymm},
      {"os_zmm", os_zmm},
      {"avx", bit(l1.ecx, 28) && os_ymm},
      {"fma", bit(l1.ecx, 12) && os_ymm},
      {"avx2", bit(l7.ebx, 5) && os_ymm},
      {"bmi1", bit(l7.ebx, 3)},
      {"bmi2", bit(l7.ebx, 8)},
      {"avx512f", bit(l7.ebx, 16) && os_zmm},
      {"avx512dq", bit(l7.ebx, 17) && os_zmm},
      {"avx512bw", bit(l7.ebx, 30) && os_zmm},
      {"avx512vl", bit(l7.ebx, 31) && os_zmm},
      {"avx512vnni", bit(l7.ecx, 11) && os_zmm},
      {"avx512bitalg", bit(l7.ecx, 12) && os_zmm},
      {"avx512vpopcntdq", bit(l7.ecx, 14) && os_zmm},
  };
#endif
  if (const char* mask = std::getenv("PYBITNET_DISABLE_CPU_FEATURES")) {
    std::stringstream ss(mask);
    std::string name;
    while (std::getline(ss, name, ',')) {
      for (auto& feat : f)
        if (name == feat.name) feat.present = false;
    }
  }
  return f;
}

struct IsaRow {
  const char* name;
  const char* features;  // space-separated names of detect()'s table
  const char* flags;     // compile flags ("" for the baseline build)
};

constexpr IsaRow kIsaTable[kNumIsas] = {
#define PBN_ISA(name, features, flags) {#name, features, flags},
#include "isa_table.inc"
#undef PBN_ISA
};

}  // namespace

const char* isa_name(Isa isa) { return int(isa) >= 0 && int(isa) < kNumIsas ? kIsaTable[int(isa)].name : "?"; }

bool parse_isa(const std::string& name, Isa* out) {
  for (int i = 0; i < kNumIsas; ++i) {
    if (name == isa_name(Isa(i))) {
      *out = Isa(i);
      return true;
    }
  }
  return false;
}

const std::vector<CpuFeature>& cpu_features() {
  static const std::vector<CpuFeature> features = detect();
  return features;
}

bool cpu_has(const char* feature) {
  for (const auto& f : cpu_features())
    if (std::strcmp(f.name, feature) == 0) return f.present;
  return false;
}

std::vector<std::string> isa_required_features(Isa isa) {
  std::vector<std::string> out;
  std::stringstream ss(kIsaTable[int(isa)].features);
  for (std::string name; ss >> name;) out.push_back(name);
  return out;
}

bool isa_built(Isa isa) {
#if PBN_X86
  (void)isa;
  return true;
#else
  return kIsaTable[int(isa)].flags[0] == '\0';
#endif
}

std::string isa_missing_features(Isa isa) {
  std::string missing;
  if (!isa_built(isa)) return "not compiled for this architecture";
  for (const std::string& name : isa_required_features(isa)) {
    if (!cpu_has(name.c_str())) missing += (missing.empty() ? "" : ", ") + name;
  }
  return missing;
}

// Answered from a table made once: every binding called with an ISA name asks (resolve_target), and
// the feature lists' parsing took ~20 us of such a call after a cache flush (Zen 5).
bool isa_supported(Isa isa) {
  static const auto supported = [] {
    std::array<bool, kNumIsas> s{};
    for (int i = 0; i < kNumIsas; ++i) s[i] = isa_missing_features(Isa(i)).empty();
    return s;
  }();
  return int(isa) >= 0 && int(isa) < kNumIsas && supported[int(isa)];
}

}  // namespace pbn
