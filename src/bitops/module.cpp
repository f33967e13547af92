// pybitnet._bitops: the private compiled module. Thin on purpose: the
// bind_*.cpp files check the arguments, release the GIL and call the families'
// drivers (<family>/driver.h), which pick the variant and split the work; this
// file adds the run-time facts and the registry's introspection. The public,
// documented API is pure Python (pybitnet/).
#include <pybind11/stl.h>

#include <limits>

#include "bind_util.h"
#include "conv/driver.h"
#include "xnor_gemm/driver.h"
#include "threads.h"

#ifndef PYBITNET_VERSION
#define PYBITNET_VERSION "dev"
#endif
#ifndef PYBITNET_BUILD_FLAGS
#define PYBITNET_BUILD_FLAGS ""
#endif

namespace pbn {
void bind_pack(py::module_& m);
void bind_xnor_gemm(py::module_& m);
void bind_xnor_gemm_threshold(py::module_& m);
void bind_conv_bits(py::module_& m);
void bind_optimizer_step(py::module_& m);
void bind_batch_norm(py::module_& m);
void bind_ste_sign(py::module_& m);
void bind_transpose(py::module_& m);
void bind_weight_matmul(py::module_& m);
void bind_uint8_weight_matmul(py::module_& m);
void bind_sample(py::module_& m);
void bind_pow2(py::module_& m);
void bind_shift_matmul(py::module_& m);
void bind_packed_mlp(py::module_& m);
void bind_array_cache(py::module_& m);
}  // namespace pbn

PYBIND11_MODULE(_bitops, m) {
  namespace py = pybind11;
  using namespace pbn;
  init_dispatch();  // throws (-> ImportError) if PYBITNET_ISA names an unusable ISA

  m.attr("__version__") = PYBITNET_VERSION;
  m.attr("build_flags") = PYBITNET_BUILD_FLAGS;

  m.def("isa", [] { return std::string(isa_name(active_isa())); }, "The active instruction-set path.");
  m.def("available_isas", [] {
    std::vector<std::string> out;
    for (Isa isa : available_isas()) out.push_back(isa_name(isa));
    return out;
  }, "ISA paths this CPU can run, best first.");
  m.def("cpu_features", [] {
    py::dict d;
    for (const auto& f : pbn::cpu_features()) d[f.name] = f.present;
    return d;
  }, "CPU features detected by CPUID and XGETBV.");
  m.def("isa_names", [] {
    std::vector<std::string> out;
    for (int i = 0; i < kNumIsas; ++i) out.push_back(isa_name(Isa(i)));
    return out;
  }, "Every ISA level this build knows (isa_table.inc), lowest first.");
  m.def("op_names", &op_names);
  m.def("variants", [] {
    py::list out;
    for (const Variant& v : pbn::variants())
      out.append(py::dict(py::arg("op") = op_name(v.op), py::arg("isa") = isa_name(v.isa), py::arg("name") = v.name,
                          py::arg("when") = v.when));
    return out;
  }, "The registry (variants.inc): every kernel variant of this build with its op, ISA and shape condition.");
  m.def("select_variant", [](const std::string& op, std::size_t m_, std::size_t n, std::size_t k,
                             const std::string& isa) {
    for (int i = 0; i < kNumOps; ++i)
      if (op == op_name(OpId(i))) return std::string(peek(OpId(i), resolve_target(isa), {m_, n, k}).name);
    throw py::value_error("unknown op '" + op + "'");
  }, py::arg("op"), py::arg("m"), py::arg("n"), py::arg("k"), py::arg("isa") = "",
        "The variant a call of `op` with shape (m, n, k) runs (see ops.inc for what m, n, k are).");
  m.def("shape_classes", [](const std::string& isa) {
    const Isa target = resolve_target(isa).isa;
    py::dict out;
    for (int i = 0; i < kNumOps; ++i) {
      py::list classes;
      for (const auto& [when, v] : pbn::shape_classes(OpId(i), target))
        classes.append(py::make_tuple(when, v->name, isa_name(v->isa)));
      out[op_name(OpId(i))] = classes;
    }
    py::list conv;  // a composite op: what its driver runs (conv/driver.h)
    conv.append(py::make_tuple("any shape", driver::binary_conv2d_plan(target), isa_name(target)));
    out["binary_conv2d_threshold"] = conv;
    py::list planes;  // the bit-plane first layer: packed planes or their pixel bytes (xnor_gemm/driver.h)
    planes.append(py::make_tuple("any shape", driver::bitplane_matmul_plan(target), isa_name(target)));
    out["bitplane_matmul"] = planes;
    return out;
  }, py::arg("isa") = "",
        "Per op, the variants that run at this ISA: (shape condition, variant, its ISA), in the order tried.");
  m.def("kernel_calls", [] {
    py::dict d;
    for (const auto& op : op_names()) d[py::str(op)] = py::dict();
    const auto counts = call_counts();
    const auto& rows = pbn::variants();
    for (std::size_t i = 0; i < rows.size(); ++i)
      d[py::str(op_name(rows[i].op))][py::str(rows[i].name)] = counts[i];
    return d;
  }, "Kernel calls per op and variant since import.");
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", [](const py::handle& n_obj) {
    if (!PyLong_Check(n_obj.ptr()) || PyBool_Check(n_obj.ptr()))
      throw py::type_error("n must be an int, got " + std::string(py::str(py::type::of(n_obj))));
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(n_obj.ptr(), &overflow);
    if (overflow < 0 || (!overflow && v < 1)) throw py::value_error("n must be >= 1, got " + std::string(py::str(n_obj)));
    if (overflow > 0 || v > kMaxThreads)
      throw py::value_error("n must be <= " + std::to_string(kMaxThreads) + " (MAX_THREADS), got " +
                            std::string(py::str(n_obj)));
    const int n = int(v);
    py::gil_scoped_release release;  // waits for a running kernel to finish
    set_num_threads(n);
  }, py::arg("n"));
  m.def("split_stats", [] {
    py::list out;
    for (const SplitReport& r : split_reports()) {
      const char* name = r.key < kNumOps                 ? op_name(OpId(r.key))
                         : r.key == kBinaryConvKey        ? "binary_conv2d_threshold"
                         : r.key == kWeightGradUpdateKey ? "weight_grad_update"
                         : r.key == kConvInputGradKey    ? "conv_input_grad"
                         : r.key == kPackedMlpKey        ? "packed_mlp"
                         : r.key == kPackedMlpPixelsKey  ? "packed_mlp_pixels"
                         : r.key == kPackedMlpBitPlanesKey ? "packed_mlp_bitplanes"
                                                         : "?";
      py::dict d;
      d["op"] = name;
      d["size_class"] = r.size_class;
      d["work_ms"] = py::make_tuple(r.work_ns_low * 1e-6, r.open_ended ? std::numeric_limits<double>::infinity() : 2 * r.work_ns_low * 1e-6);
      d["calls"] = r.calls;
      d["explore_every"] = r.explore_every;
      d["split_samples"] = r.split_samples;
      d["inline_samples"] = r.inline_samples;
      d["split_median"] = r.split_median > 0 ? py::object(py::float_(r.split_median)) : py::none();
      d["inline_median"] = r.inline_median > 0 ? py::object(py::float_(r.inline_median)) : py::none();
      d["measured"] = r.measured;
      d["splits"] = r.splits;
      d["clearly"] = r.clearly;
      out.append(d);
    }
    return out;
  }, "The thread cost model's measurements (threads.h), one dict per op and size class it has timed.");
  m.def("reset_split_stats", [] {
    py::gil_scoped_release release;
    reset_split_stats();
  }, "Forget the thread cost model's measurements.");
  m.def("_simulate_thread_plan", [](int key, double work_ns, const std::vector<double>& split_cost,
                                    const std::vector<double>& inline_cost) {
    // Plans and records calls whose wall time is cost * work_ns, without running anything: the cost model's
    // decisions under a scripted load, for the tests. Returns, per call, whether it was planned to split.
    if (key < kNumSplitKeys || key >= kMaxSplitKeys) throw py::value_error("key must be a free key (tests)");
    if (split_cost.size() != inline_cost.size()) throw py::value_error("split_cost and inline_cost differ in length");
    std::vector<bool> split;
    for (std::size_t i = 0; i < split_cost.size(); ++i) {
      const SplitPlan plan = plan_split(key, work_ns);
      const bool s = plan.chunks > 1;
      if (plan.size_class >= 0) record_split(plan, s, (s ? split_cost[i] : inline_cost[i]) * work_ns);
      split.push_back(s);
    }
    return split;
  }, py::arg("key"), py::arg("work_ns"), py::arg("split_cost"), py::arg("inline_cost"));
  m.attr("_FREE_SPLIT_KEY") = kMaxSplitKeys - 1;
  m.attr("MAX_THREADS") = kMaxThreads;
  m.def("default_num_threads", &default_num_threads);

  bind_pack(m);
  bind_xnor_gemm(m);
  bind_xnor_gemm_threshold(m);
  bind_conv_bits(m);
  bind_optimizer_step(m);
  bind_batch_norm(m);
  bind_ste_sign(m);
  bind_transpose(m);
  bind_weight_matmul(m);
  bind_uint8_weight_matmul(m);
  bind_sample(m);
  bind_pow2(m);
  bind_shift_matmul(m);
  bind_packed_mlp(m);
  bind_array_cache(m);
}
