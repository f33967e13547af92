#include "registry.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace pbn {

namespace {

constexpr int kNumRows = 0
#define PBN_VARIANT(op, isa, name, when) +1
#include "variants.inc"
#undef PBN_VARIANT
    ;

// The rows as written; a row whose function this build lacks (an x86 ISA on
// another architecture: weak, hence null) is left out by variants().
const Variant kRows[kNumRows] = {
#define PBN_VARIANT(op, isa, name, when)                                                                   \
  {OpId::op, Isa::isa, #name, #when,                                                                      \
   [](const Shape& s) -> bool {                                                                           \
     const std::size_t m = s.m, n = s.n, k = s.k;                                                         \
     (void)m, (void)n, (void)k;                                                                           \
     return when;                                                                                         \
   },                                                                                                     \
   reinterpret_cast<void (*)()>(static_cast<op##_fn*>(&name))},
#include "variants.inc"
#undef PBN_VARIANT
};

Isa g_active = Isa::scalar;
std::atomic<unsigned long long> g_calls[kNumRows];

struct Index {
  std::vector<Variant> rows;
  std::vector<std::vector<int>> by_op;  // per op: rows, best ISA first, in file order within an ISA

  Index() {
    for (const Variant& v : kRows)
      if (v.fn && isa_built(v.isa)) rows.push_back(v);
    by_op.resize(kNumOps);
    for (int isa = kNumIsas - 1; isa >= 0; --isa)
      for (int i = 0; i < int(rows.size()); ++i)
        if (int(rows[i].isa) == isa) by_op[int(rows[i].op)].push_back(i);
  }
};

const Index& index() {
  static const Index idx;
  return idx;
}

std::string available_list() {
  std::string s;
  for (Isa isa : available_isas()) s += (s.empty() ? "" : ", ") + std::string(isa_name(isa));
  return s;
}

}  // namespace

const char* op_name(OpId op) {
  static const char* const names[] = {
#define PBN_OP(op) #op,
#include "ops.inc"
#undef PBN_OP
  };
  return names[int(op)];
}

std::vector<std::string> op_names() {
  std::vector<std::string> out;
  for (int op = 0; op < kNumOps; ++op) out.push_back(op_name(OpId(op)));
  return out;
}

const std::vector<Variant>& variants() { return index().rows; }

int variant_index(const std::string& name) {
  const auto& rows = variants();
  for (int i = 0; i < int(rows.size()); ++i)
    if (name == rows[i].name) return i;
  return -1;
}

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (int i = kNumIsas - 1; i >= 0; --i)
    if (isa_supported(Isa(i))) out.push_back(Isa(i));
  return out;  // best first, always ends in scalar
}

Target resolve_target(const std::string& requested) {
  if (requested.empty()) return {g_active, -1};
  Isa isa;
  int forced = -1;
  if (!parse_isa(requested, &isa)) {
    forced = variant_index(requested);
    if (forced < 0) {
      std::string names;
      for (int i = 0; i < kNumIsas; ++i) names += (i ? ", " : "") + std::string(isa_name(Isa(i)));
      throw std::invalid_argument("unknown ISA '" + requested + "'; expected one of: " + names +
                                  " (or a variant name, see pybitnet.variants())");
    }
    isa = variants()[forced].isa;
  }
  if (!isa_supported(isa))
    throw std::invalid_argument("ISA '" + std::string(isa_name(isa)) + "' is not available on this CPU (missing: " +
                                isa_missing_features(isa) + "); available: " + available_list());
  return {isa, forced};
}

void init_dispatch() {
  const char* forced = std::getenv("PYBITNET_ISA");
  if (forced && *forced) {
    Isa isa;
    if (!parse_isa(forced, &isa))  // an ISA, not a variant name
      throw std::runtime_error(std::string("PYBITNET_ISA=") + forced + ": unknown ISA '" + forced + "'");
    try {
      g_active = resolve_target(forced).isa;
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("PYBITNET_ISA=") + forced + ": " + e.what());
    }
  } else {
    g_active = available_isas().front();
  }
}

Isa active_isa() { return g_active; }

const Variant& peek(OpId op, const Target& target, const Shape& shape) {
  const Index& idx = index();
  if (target.forced >= 0 && idx.rows[target.forced].op == op) return idx.rows[target.forced];
  for (int i : idx.by_op[int(op)]) {
    const Variant& v = idx.rows[i];
    if (int(v.isa) <= int(target.isa) && v.applies(shape)) return v;
  }
  // variants.inc gives every op an unconditional scalar row (checked by the native tests).
  throw std::logic_error(std::string("no variant of ") + op_name(op) + " for this shape");
}

const Variant& select(OpId op, const Target& target, const Shape& shape) {
  const Variant& v = peek(op, target, shape);
  g_calls[&v - variants().data()].fetch_add(1, std::memory_order_relaxed);
  return v;
}

bool own_variant(OpId op, Isa isa) {
  for (int i : index().by_op[int(op)])
    if (variants()[i].isa == isa) return true;
  return false;
}

std::vector<std::pair<std::string, const Variant*>> shape_classes(OpId op, Isa isa) {
  std::vector<std::pair<std::string, const Variant*>> out;
  for (int i : index().by_op[int(op)]) {
    const Variant& v = variants()[i];
    if (int(v.isa) > int(isa)) continue;
    const bool always = std::strcmp(v.when, "true") == 0;
    out.emplace_back(always ? (out.empty() ? "any shape" : "otherwise") : v.when, &v);
    if (always) break;
  }
  return out;
}

std::vector<unsigned long long> call_counts() {
  std::vector<unsigned long long> out(variants().size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = g_calls[i].load(std::memory_order_relaxed);
  return out;
}

}  // namespace pbn
