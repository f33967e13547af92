// pybitnet._bitops: the private compiled module. Thin on purpose: argument
// checks, GIL release and a call through the dispatch table live in the
// bind_*.cpp files; the public, documented API is pure Python (pybitnet/).
#include <pybind11/stl.h>

#include "bind_util.h"
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
void bind_weight_matmul(py::module_& m);
void bind_uint8_weight_matmul(py::module_& m);
void bind_sample(py::module_& m);
void bind_pow2(py::module_& m);
void bind_shift_matmul(py::module_& m);
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
  m.def("op_names", &op_names);
  m.def("kernel_calls", [] {
    py::dict d;
    const auto names = op_names();
    const auto counts = call_counts();
    for (std::size_t op = 0; op < names.size(); ++op) {
      py::dict per_isa;
      for (int i = 0; i < kNumIsas; ++i) per_isa[isa_name(Isa(i))] = counts[op][i];
      d[py::str(names[op])] = per_isa;
    }
    return d;
  }, "Kernel calls per op and ISA since import.");
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
  m.attr("MAX_THREADS") = kMaxThreads;
  m.def("default_num_threads", &default_num_threads);

  bind_pack(m);
  bind_xnor_gemm(m);
  bind_xnor_gemm_threshold(m);
  bind_conv_bits(m);
  bind_optimizer_step(m);
  bind_weight_matmul(m);
  bind_uint8_weight_matmul(m);
  bind_sample(m);
  bind_pow2(m);
  bind_shift_matmul(m);
}
