#include "dispatch.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace pbn {

namespace {
Isa g_active = Isa::scalar;
std::atomic<unsigned long long> g_calls[int(OpId::count_)][kNumIsas];

std::string available_list() {
  std::string s;
  for (Isa isa : available_isas()) s += (s.empty() ? "" : ", ") + std::string(isa_name(isa));
  return s;
}
}  // namespace

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (int i = kNumIsas - 1; i >= 0; --i)
    if (isa_supported(Isa(i))) out.push_back(Isa(i));
  return out;  // best first, always ends in scalar
}

Isa resolve_isa(const std::string& requested) {
  if (requested.empty()) return g_active;
  Isa isa;
  if (!parse_isa(requested, &isa))
    throw std::invalid_argument("unknown ISA '" + requested + "'; expected one of: scalar, avx2, avx512");
  if (!isa_supported(isa))
    throw std::invalid_argument("ISA '" + requested + "' is not available on this CPU (missing: " +
                                isa_missing_features(isa) + "); available: " + available_list());
  return isa;
}

void init_dispatch() {
  const char* forced = std::getenv("PYBITNET_ISA");
  if (forced && *forced) {
    try {
      g_active = resolve_isa(forced);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("PYBITNET_ISA=") + forced + ": " + e.what());
    }
  } else {
    g_active = available_isas().front();
  }
}

Isa active_isa() { return g_active; }

std::vector<std::string> op_names() {
  return {
#define PBN_OP(op) #op,
#include "ops.inc"
#undef PBN_OP
  };
}

}  // namespace pbn

namespace pbn {

void note_call(OpId op, Isa isa) { g_calls[int(op)][int(isa)].fetch_add(1, std::memory_order_relaxed); }

std::vector<std::vector<unsigned long long>> call_counts() {
  std::vector<std::vector<unsigned long long>> out(int(OpId::count_), std::vector<unsigned long long>(kNumIsas));
  for (int op = 0; op < int(OpId::count_); ++op)
    for (int i = 0; i < kNumIsas; ++i) out[op][i] = g_calls[op][i].load(std::memory_order_relaxed);
  return out;
}

}  // namespace pbn
